import ColPaliMath
import Testing

/// Every bf16 GEMM kernel this machine can run (and the AMX kernel's tiling
/// on the C model of the tile instructions, everywhere) equals a
/// double-precision product of its operands: the bf16 weights, and A as the
/// kernel reads it (rounded to bf16 for amx and avx512bf16, float32 for avx2
/// and portable). Accumulation is float32, so they agree to ~1e-5.
struct BF16GemmTests {
    static func bf16(_ x: Float) -> Float {
        var bits = x.bitPattern
        bits = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: bits)
    }

    static let allKernels = ["portable", "avx2", "avx512bf16", "amx", "amx-emulated"]
    static let kernels = allKernels.filter { name in
        defer { _ = colpali_bf16_force_kernel("auto") }
        return colpali_bf16_force_kernel(name) == 0
    }
    /// The kernels with fused epilogues (GeGLU, GELU) that this machine runs:
    /// the AMX C model everywhere, the hardware where the CPU has AMX.
    static let fusingKernels = kernels.filter { $0.hasPrefix("amx") }

    /// (m, n, k): edges of every blocking (rows not a multiple of 6, 8, 16
    /// or 32, an odd number of 16-row groups, more than one 256-row block;
    /// columns not a multiple of 16, 32 or 48, an odd number of 16-column
    /// thirds, more than one 512-column block; k odd, not a multiple of 32,
    /// and beyond one k block of each kernel; few rows with long k, where
    /// the AMX kernel streams B instead of blocking k).
    static let shapes = [(28, 192, 64), (1, 1, 1), (9, 47, 33), (33, 100, 2048), (17, 49, 3000), (64, 96, 1152),
                         (197, 50, 72), (40, 145, 4304), (7, 16, 1030), (48, 80, 600), (300, 530, 600)]

    @Test(arguments: kernels, shapes)
    func matchesReference(kernel: String, shape: (Int, Int, Int)) {
        Self.check(kernel: kernel, shape: shape)
    }

    /// Without memory for their working buffers (a failing allocator), the
    /// kernels that need one still give the product, through the portable one.
    @Test(arguments: kernels, [(9, 47, 33), (40, 145, 4304)])
    func computesTheProductWithoutMemoryForBuffers(kernel: String, shape: (Int, Int, Int)) {
        colpali_bf16_simulate_out_of_memory(1)
        defer { colpali_bf16_simulate_out_of_memory(0) }
        Self.check(kernel: kernel, shape: shape)
    }

    /// bf16 values equal to one rounding step (the portable fallbacks sum in
    /// another order), the same elements unwritten (poison) in both, no NaN.
    static func expectWithinOneStep(_ values: [UInt16], _ expected: [UInt16], _ what: String) {
        #expect(values.count == expected.count)
        var worst: Float = 0
        for (v, e) in zip(values, expected) {
            if v == 0x7FC1 || e == 0x7FC1 {
                #expect(v == e, "\(what): written where the other is not")
                continue
            }
            let (x, y) = (Float(bitPattern: UInt32(v) << 16), Float(bitPattern: UInt32(e) << 16))
            #expect(!x.isNaN && !y.isNaN, "\(what): NaN")
            worst = max(worst, abs(x - y) / max(abs(y), 1e-3))
        }
        #expect(worst <= 1.0 / 128, "\(what): \(worst)")
    }

    static func check(kernel: String, shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(colpali_bf16_force_kernel(kernel) == 0)
        defer { _ = colpali_bf16_force_kernel("auto") }
        var state: UInt32 = 12345
        func random() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let a = (0..<(m * k)).map { _ in random() }
        let w = (0..<(n * k)).map { _ in random() }
        let bias = (0..<n).map { _ in random() }
        let packed = UnsafeMutablePointer<UInt16>.allocate(capacity: colpali_bf16_packed_bytes(Int32(n), Int32(k)) / 2)
        defer { packed.deallocate() }
        // Poison, so a kernel reading padding the packing did not write fails.
        packed.initialize(repeating: 0x7FC1, count: colpali_bf16_packed_bytes(Int32(n), Int32(k)) / 2)
        let panels = colpali_bf16_panel_count(Int32(n))
        if k % 3 == 0 {
            colpali_bf16_pack_strided(w, k, 1, Int32(n), Int32(k), packed, 0, panels)
        } else {
            // From bf16 rows, as checkpoints store weights.
            let rounded = w.map { UInt16(Self.bf16($0).bitPattern >> 16) }
            rounded.withUnsafeBufferPointer { base in
                let rows: [UnsafePointer<UInt16>?] = (0..<n).map { base.baseAddress! + $0 * k }
                colpali_bf16_pack_rows(rows, Int32(n), Int32(k), packed, 0, panels)
            }
        }
        var c = [Float](repeating: .nan, count: m * n)
        var byRows = [Float](repeating: .nan, count: m * n)
        let readsFloat = colpali_bf16_reads_float() != 0
        let stride = Int(colpali_bf16_stride(Int32(k)))
        // Poison: rows of the last group of a tiled A past m hold NaN, and
        // must not reach C.
        var converted = [UInt16](repeating: 0xFFFF, count: colpali_bf16_a_elements(Int32(m), Int32(k)))
        if !readsFloat {
            // In two parts, as two threads convert it.
            colpali_bf16_from_float(a, Int32(k), Int32(k), Int32(m / 3), Int32(m), &converted)
            colpali_bf16_from_float(a, Int32(k), Int32(k), 0, Int32(m / 3), &converted)
        }
        // Two halves of the panels, as two threads would run them.
        for (begin, end) in [(0, panels / 2), (panels / 2, panels)] {
            if readsFloat {
                colpali_bf16_gemm_float(a, Int32(k), Int32(m), Int32(k), packed, Int32(n), &c, Int32(n), bias, begin, end)
            } else {
                colpali_bf16_gemm(converted, Int32(m), Int32(k), packed, Int32(n), &c, Int32(n), bias, begin, end)
            }
        }
        // Two parts of the rows, the first a whole number of the layout's
        // groups, as BF16Product splits a product with few panels.
        let group = Int(colpali_bf16_row_group())
        let split = min(m, (m / 2 + group - 1) / group * group)
        for rows in [0..<split, split..<m] where !rows.isEmpty {
            byRows.withUnsafeMutableBufferPointer { out in
                let c = out.baseAddress! + rows.lowerBound * n
                if readsFloat {
                    colpali_bf16_gemm_float(Array(a[(rows.lowerBound * k)...]), Int32(k), Int32(rows.count), Int32(k),
                                            packed, Int32(n), c, Int32(n), bias, 0, panels)
                } else {
                    converted.withUnsafeBufferPointer { a in
                        colpali_bf16_gemm(a.baseAddress! + rows.lowerBound * stride, Int32(rows.count), Int32(k), packed,
                                          Int32(n), c, Int32(n), bias, 0, panels)
                    }
                }
            }
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = Double(bias[j])
                for p in 0..<k {
                    let x = readsFloat ? a[i * k + p] : Self.bf16(a[i * k + p])
                    sum += Double(x) * Double(Self.bf16(w[j * k + p]))
                }
                for got in [c[i * n + j], byRows[i * n + j]] {
                    worst = max(worst, abs(sum - Double(got)) / max(1, abs(sum)))
                }
            }
        }
        #expect(worst < 1e-4, "\(kernel) m=\(m) n=\(n) k=\(k): \(worst)")
    }

    /// The AMX kernels' GeGLU, applied as the gate and up tiles finish
    /// (weight packed with the halves interleaved 16 rows at a time), gives
    /// the same bf16 values, in the same layout, as the product written out,
    /// GeGLU on it and the conversion for the next product; without memory
    /// for its buffers, the portable fallback gives them to bf16 rounding.
    @Test(arguments: fusingKernels, [(47, 256, 96), (300, 192, 600), (1, 64, 33), (20, 128, 2100)])
    func geluOfGateTimesUpFromTheTiles(kernel: String, shape: (Int, Int, Int)) throws {
        #expect(colpali_bf16_force_kernel(kernel) == 0)
        defer { _ = colpali_bf16_force_kernel("auto") }
        let (m, n, k) = shape
        let half = n / 2
        var state: UInt32 = 99
        func random() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let a = (0..<(m * k)).map { _ in random() }
        let w = (0..<(n * k)).map { _ in UInt16(Self.bf16(random() * 0.2).bitPattern >> 16) }
        let panels = colpali_bf16_panel_count(Int32(n))
        let bytes = colpali_bf16_packed_bytes(Int32(n), Int32(k))
        let stacked = UnsafeMutablePointer<UInt16>.allocate(capacity: bytes / 2)
        let interleaved = UnsafeMutablePointer<UInt16>.allocate(capacity: bytes / 2)
        defer { stacked.deallocate(); interleaved.deallocate() }
        w.withUnsafeBufferPointer { base in
            let rows: [UnsafePointer<UInt16>?] = (0..<n).map { base.baseAddress! + $0 * k }
            colpali_bf16_pack_rows(rows, Int32(n), Int32(k), stacked, 0, panels)
            let order = (0..<n).map { c in (c % 32 < 16 ? 0 : half) + 16 * (c / 32) + c % 16 }
            colpali_bf16_pack_rows(order.map { rows[$0] }, Int32(n), Int32(k), interleaved, 0, panels)
        }
        var input = [UInt16](repeating: 0, count: colpali_bf16_a_elements(Int32(m), Int32(k)))
        colpali_bf16_from_float(a, Int32(k), Int32(k), 0, Int32(m), &input)
        var c = [Float](repeating: .nan, count: m * n)
        colpali_bf16_gemm(input, Int32(m), Int32(k), stacked, Int32(n), &c, Int32(n), nil, 0, panels)
        for r in 0..<m {
            c.withUnsafeMutableBufferPointer { c in colpali_geglu(c.baseAddress! + r * n, c.baseAddress! + r * n + half, 0, half) }
        }
        var expected = [UInt16](repeating: 0, count: colpali_bf16_a_elements(Int32(m), Int32(half)))
        colpali_bf16_from_float(c, Int32(n), Int32(half), 0, Int32(m), &expected)
        for outOfMemory in [false, true] {
            colpali_bf16_simulate_out_of_memory(outOfMemory ? 1 : 0)
            defer { colpali_bf16_simulate_out_of_memory(0) }
            var fused = [UInt16](repeating: 0, count: expected.count)
            // Two parts, split at an even panel, as BF16Product splits it.
            let split = panels / 2 & ~1
            #expect(colpali_bf16_gemm_geglu(input, Int32(m), Int32(k), interleaved, Int32(n), &fused, 0, split) == 0)
            #expect(colpali_bf16_gemm_geglu(input, Int32(m), Int32(k), interleaved, Int32(n), &fused, split, panels) == 0)
            if outOfMemory {
                Self.expectWithinOneStep(fused, expected, "\(kernel) \(shape) without memory")
            } else {
                #expect(fused == expected, "\(kernel) \(shape)")
            }
        }
        // An odd first panel would split a gate block from its up block.
        var unused = [UInt16](repeating: 0, count: expected.count)
        #expect(colpali_bf16_gemm_geglu(input, Int32(m), Int32(k), interleaved, Int32(n), &unused, 1, panels) == -1)
    }

    /// GELU fused into the AMX kernel (SigLIP's fc1: bias, then tanh GELU)
    /// gives the same bf16 values, in the same layout with the padding
    /// columns zero, as the product written out, GELU on it and the
    /// conversion for the next product, for any split of the panels; without
    /// memory for its buffers, the portable fallback gives them to bf16
    /// rounding. Elsewhere it refuses, writing nothing.
    @Test(arguments: fusingKernels, [(47, 145, 96), (300, 192, 600), (1, 64, 33), (33, 50, 2100), (20, 40, 70), (300, 140, 600)])
    func geluFromTheTiles(kernel: String, shape: (Int, Int, Int)) throws {
        #expect(colpali_bf16_force_kernel(kernel) == 0)
        defer { _ = colpali_bf16_force_kernel("auto") }
        let (m, n, k) = shape
        var state: UInt32 = 7
        func random() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let a = (0..<(m * k)).map { _ in random() }
        let w = (0..<(n * k)).map { _ in random() * 0.2 }
        let bias = (0..<n).map { _ in random() }
        let panels = colpali_bf16_panel_count(Int32(n))
        let packed = UnsafeMutablePointer<UInt16>.allocate(capacity: colpali_bf16_packed_bytes(Int32(n), Int32(k)) / 2)
        defer { packed.deallocate() }
        colpali_bf16_pack_strided(w, k, 1, Int32(n), Int32(k), packed, 0, panels)
        var input = [UInt16](repeating: 0, count: colpali_bf16_a_elements(Int32(m), Int32(k)))
        colpali_bf16_from_float(a, Int32(k), Int32(k), 0, Int32(m), &input)
        var c = [Float](repeating: .nan, count: m * n)
        colpali_bf16_gemm(input, Int32(m), Int32(k), packed, Int32(n), &c, Int32(n), bias, 0, panels)
        colpali_gelu_tanh(&c, 0, m * n)
        let poison: UInt16 = 0x7FC1
        var expected = [UInt16](repeating: poison, count: colpali_bf16_a_elements(Int32(m), Int32(n)))
        colpali_bf16_from_float(c, Int32(n), Int32(n), 0, Int32(m), &expected)
        for outOfMemory in [false, true] {
            colpali_bf16_simulate_out_of_memory(outOfMemory ? 1 : 0)
            defer { colpali_bf16_simulate_out_of_memory(0) }
            var fused = [UInt16](repeating: poison, count: expected.count)
            let split = panels / 2
            #expect(colpali_bf16_gemm_gelu(input, Int32(m), Int32(k), packed, Int32(n), bias, &fused, 0, split) == 0)
            #expect(colpali_bf16_gemm_gelu(input, Int32(m), Int32(k), packed, Int32(n), bias, &fused, split, panels) == 0)
            if outOfMemory {
                Self.expectWithinOneStep(fused, expected, "\(kernel) \(shape) without memory")
            } else {
                #expect(fused == expected, "\(kernel) \(shape)")
            }
        }
        #expect(colpali_bf16_force_kernel("portable") == 0)
        var untouched = [UInt16](repeating: poison, count: expected.count)
        #expect(colpali_bf16_gemm_gelu(input, Int32(m), Int32(k), packed, Int32(n), bias, &untouched, 0, panels) == -1)
        #expect(untouched.allSatisfy { $0 == poison })
    }

    @Test func geluOfGateTimesUpNeedsAnAMXKernel() {
        #expect(colpali_bf16_force_kernel("portable") == 0)
        defer { _ = colpali_bf16_force_kernel("auto") }
        #expect(colpali_bf16_geglu_fused() == 0)
        var out = [UInt16](repeating: 0, count: 32 * 32)
        let a = [UInt16](repeating: 0, count: 32 * 32)
        let packed = [UInt16](repeating: 0, count: colpali_bf16_packed_bytes(64, 32) / 2)
        #expect(colpali_bf16_gemm_geglu(a, 1, 32, packed, 64, &out, 0, 2) == -1)
    }

    @Test func refusesUnknownKernelsAndKeepsTheCurrentOne() {
        let before = colpali_bf16_kernel()
        #expect(colpali_bf16_force_kernel("no-such-kernel") == -1)
        #expect(colpali_bf16_kernel() == before)
        // The emulation is for tests only: never the automatic choice.
        #expect(colpali_bf16_kernel() != COLPALI_GEMM_AMX_EMULATED)
    }

    @Test func forcingIsPerThreadAndUndone() {
        #expect(colpali_bf16_force_kernel("portable") == 0)
        #expect(colpali_bf16_kernel() == COLPALI_GEMM_PORTABLE)
        #expect(String(cString: colpali_bf16_kernel_name(colpali_bf16_kernel())) == "portable")
        #expect(colpali_bf16_force_kernel("auto") == 0)
        #expect(colpali_bf16_kernel() != COLPALI_GEMM_AMX_EMULATED)
    }
}
