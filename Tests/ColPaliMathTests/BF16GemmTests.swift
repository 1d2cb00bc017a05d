import ColPaliMath
import Testing

/// The bf16 GEMM equals a double-precision product of the bf16-rounded
/// operands (it only rounds inputs; accumulation is float32).
struct BF16GemmTests {
    static func bf16(_ x: Float) -> Float {
        var bits = x.bitPattern
        bits = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: bits)
    }

    @Test(arguments: [(28, 192, 64), (1, 1, 1), (9, 47, 33), (1030, 100, 2048), (17, 49, 3000), (64, 96, 1152)])
    func matchesReference(m: Int, n: Int, k: Int) {
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
        if k % 3 == 0 {
            colpali_bf16_pack_strided(w, k, 1, Int32(n), Int32(k), packed, 0, colpali_bf16_panel_count(Int32(n)))
        } else {
            // From bf16 rows, as checkpoints store weights.
            let rounded = w.map { UInt16(Self.bf16($0).bitPattern >> 16) }
            rounded.withUnsafeBufferPointer { base in
                let rows: [UnsafePointer<UInt16>?] = (0..<n).map { base.baseAddress! + $0 * k }
                colpali_bf16_pack_rows(rows, Int32(n), Int32(k), packed, 0, colpali_bf16_panel_count(Int32(n)))
            }
        }
        let stride = Int(colpali_bf16_stride(Int32(k)))
        var converted = [UInt16](repeating: 0, count: m * stride)
        colpali_bf16_from_float(a, Int32(k), Int32(k), 0, Int32(m), &converted)
        var c = [Float](repeating: .nan, count: m * n)
        let panels = colpali_bf16_panel_count(Int32(n))
        // Two halves, as two threads would run them.
        colpali_bf16_gemm(converted, Int32(m), Int32(k), packed, Int32(n), &c, Int32(n), bias, 0, panels / 2)
        colpali_bf16_gemm(converted, Int32(m), Int32(k), packed, Int32(n), &c, Int32(n), bias, panels / 2, panels)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = Double(bias[j])
                for p in 0..<k { sum += Double(Self.bf16(a[i * k + p])) * Double(Self.bf16(w[j * k + p])) }
                worst = max(worst, abs(sum - Double(c[i * n + j])) / max(1, abs(sum)))
            }
        }
        #expect(worst < 1e-4, "m=\(m) n=\(n) k=\(k): \(worst)")
    }
}
