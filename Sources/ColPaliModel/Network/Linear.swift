import COpenBLAS
import ColPaliMath
import Foundation

/// y = x W^T + b, with W [out, in] as checkpoints store it.
final class Linear: @unchecked Sendable {
    /// The weight as the precision's kernel reads it.
    private enum Weight {
        /// [out, in] float32, for OpenBLAS.
        case float([Float])
        /// Panels of the bf16 kernel.
        case packed(ScratchBuffer)
    }

    let inFeatures: Int
    let outFeatures: Int
    /// Packed for colpali_bf16_gemm_geglu: two stacked tensors (gate, up)
    /// with their rows interleaved 16 at a time.
    let interleavesHalves: Bool
    private let weight: Weight
    /// Whether the weight is in the bf16 kernel's panels (the fused
    /// epilogues and `apply(converted:)` need it).
    var isPacked: Bool {
        if case .packed = weight { return true }
        return false
    }
    /// A stable pointer for the kernels; nil when there is no bias.
    private let bias: UnsafeMutablePointer<Float>?

    /// Several checkpoint tensors stacked along the output dimension (e.g.
    /// q, k, v) become one wider Linear: one pass over the input. With
    /// `interleavingHalves` (two tensors of the same shape and a multiple of
    /// 32 rows, bf16, no bias), their rows are packed 16 from one, 16 from
    /// the other, for `applyGeGLU`.
    init(weights: ModelWeights, names: [String], biasNames: [String]?, precision: Precision,
         context: ComputeContext, interleavingHalves: Bool = false) throws {
        let shapes = try names.map { try weights.shape($0) }
        inFeatures = shapes[0].dropFirst().reduce(1, *)
        outFeatures = shapes.reduce(0) { $0 + $1[0] }
        interleavesHalves = interleavingHalves
        precondition(!interleavingHalves || (names.count == 2 && shapes[0] == shapes[1] && biasNames == nil
                                             && precision == .bf16 && shapes[0][0] % 32 == 0),
                     "GeGLU's kernel takes two halves of the same shape, each a multiple of 32 rows, bf16, no bias")
        if let biasNames {
            let values = try biasNames.flatMap { try weights.floats($0) }
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
            pointer.initialize(from: values, count: values.count)
            bias = pointer
        } else {
            bias = nil
        }
        switch precision {
        case .fp32:
            weight = .float(try names.flatMap { try weights.floats($0) })
        case .bf16:
            weight = .packed(try Self.pack(weights: weights, names: names, n: outFeatures, k: inFeatures,
                                           interleaving: interleavingHalves, context: context))
        }
        for name in names { weights.release(name) }
    }

    deinit { bias?.deallocate() }

    /// The weight in the bf16 kernel's panel layout: from the mapped bf16
    /// bytes when the tensors are stored bf16 and unchanged (the rows of the
    /// parts addressed in place, never copied or widened); otherwise from a
    /// float copy (fp32 files, LoRA-merged tensors).
    private static func pack(weights: ModelWeights, names: [String], n: Int, k: Int, interleaving: Bool,
                             context: ComputeContext) throws -> ScratchBuffer {
        // Packed column c takes source row order[c]: interleaved, 16 rows of
        // the first half, then the same 16 of the second, and so on.
        var order = Array(0..<n)
        if interleaving {
            let half = n / 2
            for column in 0..<n {
                let (block, offset) = column.quotientAndRemainder(dividingBy: 32)
                order[column] = (offset < 16 ? 0 : half) + 16 * block + offset % 16
            }
        }
        let bytes = colpali_bf16_packed_bytes(Int32(n), Int32(k))
        let storage = ScratchBuffer(bytes: bytes)
        let target = UnsafeSendable(storage.pointer.bindMemory(to: UInt16.self, capacity: max(1, bytes / 2)))
        let panels = Int(colpali_bf16_panel_count(Int32(n)))
        let stored = try names.map { try weights.storedEntry($0) }
        if stored.allSatisfy({ $0?.info.dtype == .bf16 }) {
            var source: [UnsafePointer<UInt16>] = []
            source.reserveCapacity(n)
            for entry in stored.compactMap({ $0 }) {
                entry.file.prefault(entry.info)
                let base = entry.file.bytes(entry.info).bindMemory(to: UInt16.self).baseAddress!
                for row in 0..<entry.info.shape[0] { source.append(base + row * k) }
            }
            let rows: [UnsafePointer<UInt16>?] = order.map { source[$0] }
            rows.withUnsafeBufferPointer { pointers in
                let shared = UnsafeSendable(pointers.baseAddress!)
                context.parallel(panels) { begin, end in
                    colpali_bf16_pack_rows(shared.value, Int32(n), Int32(k), target.value, Int32(begin), Int32(end))
                }
            }
        } else {
            var floats = [Float]()
            floats.reserveCapacity(n * k)
            for name in names { floats += try weights.floats(name) }
            if interleaving {
                let stacked = floats
                floats = order.flatMap { stacked[$0 * k..<($0 + 1) * k] }
            }
            floats.withUnsafeBufferPointer { source in
                let shared = UnsafeSendable(source.baseAddress!)
                context.parallel(panels) { begin, end in
                    colpali_bf16_pack_strided(shared.value, k, 1, Int32(n), Int32(k), target.value, Int32(begin), Int32(end))
                }
            }
        }
        return storage
    }

    /// The product with a packed weight, on the bf16 kernel.
    private func product(_ storage: ScratchBuffer) -> BF16Product {
        BF16Product(packed: storage.pointer.assumingMemoryBound(to: UInt16.self), n: outFeatures, k: inFeatures)
    }

    /// GeGLU of the two halves' products, gelu_tanh(x gate^T) * (x up^T), in
    /// bf16 in the A layout of the kernel (row stride outFeatures / 2), for
    /// `apply(converted:)` of the next Linear: the products themselves are
    /// never written. Needs `interleavesHalves`.
    func applyGeGLU(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<UInt16>, workspace: Workspace,
                    context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "linear \(outFeatures)x\(inFeatures) + geglu", flops: 2 * Double(rows * outFeatures * inFeatures)) }
        guard interleavesHalves, case .packed(let storage) = weight else { preconditionFailure("not packed for GeGLU") }
        product(storage).applyGeGLU(x, lda: inFeatures, rows: rows, into: out, workspace: workspace, context: context)
    }

    /// gelu_tanh(x W^T + b) in bf16 in the A layout of the kernel (row
    /// stride colpali_bf16_stride(outFeatures)), for `apply(converted:)` of
    /// the next Linear: the product itself is never written.
    func applyGELU(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<UInt16>, workspace: Workspace,
                   context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "linear \(outFeatures)x\(inFeatures) + gelu", flops: 2 * Double(rows * outFeatures * inFeatures)) }
        guard case .packed(let storage) = weight else { preconditionFailure("GELU fusion needs a packed weight") }
        product(storage).applyGELU(x, lda: inFeatures, rows: rows, bias: bias.map { UnsafePointer($0) }, into: out,
                                   workspace: workspace, context: context)
    }

    /// out = x W^T + b with x already bf16 in the kernel's A layout (as
    /// `applyGeGLU` writes it).
    func apply(converted x: UnsafePointer<UInt16>, rows: Int, into out: Matrix, context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "linear \(outFeatures)x\(inFeatures)", flops: 2 * Double(rows * outFeatures * inFeatures)) }
        guard case .packed(let storage) = weight else { preconditionFailure("bf16 input for a float32 weight") }
        product(storage).apply(converted: x, rows: rows, into: out.pointer, ldc: outFeatures, bias: bias.map { UnsafePointer($0) },
                   context: context)
    }

    /// out[rows, outFeatures] = x[rows, inFeatures (row stride xStride)] W^T + b.
    func apply(_ x: UnsafePointer<Float>, rows: Int, xStride: Int? = nil, into out: Matrix, workspace: Workspace,
               context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "linear \(outFeatures)x\(inFeatures)", flops: 2 * Double(rows * outFeatures * inFeatures)) }
        precondition(out.rows == rows && out.cols == outFeatures)
        let lda = xStride ?? inFeatures
        switch weight {
        case .float(let values):
            var beta: Float = 0
            if let bias {
                for r in 0..<rows { (out.pointer + r * outFeatures).update(from: bias, count: outFeatures) }
                beta = 1
            }
            values.withUnsafeBufferPointer { w in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
                            1, x, Int32(lda), w.baseAddress, Int32(inFeatures), beta, out.pointer, Int32(outFeatures))
            }
        case .packed(let storage):
            product(storage).apply(x, lda: lda, rows: rows, into: out.pointer, ldc: outFeatures, bias: bias.map { UnsafePointer($0) },
                          converted: .linearInput, workspace: workspace, context: context)
        }
    }
}
