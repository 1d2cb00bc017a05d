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
    private let weight: Weight
    /// A stable pointer for the kernels; nil when there is no bias.
    private let bias: UnsafeMutablePointer<Float>?

    /// Several checkpoint tensors stacked along the output dimension (e.g.
    /// q, k, v) become one wider Linear: one pass over the input.
    init(weights: ModelWeights, names: [String], biasNames: [String]?, precision: Precision,
         context: ComputeContext) throws {
        let shapes = try names.map { try weights.shape($0) }
        inFeatures = shapes[0].dropFirst().reduce(1, *)
        outFeatures = shapes.reduce(0) { $0 + $1[0] }
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
            weight = .packed(try Self.pack(weights: weights, names: names, n: outFeatures, k: inFeatures, context: context))
        }
        for name in names { weights.release(name) }
    }

    deinit { bias?.deallocate() }

    /// The weight in the bf16 kernel's panel layout: from the mapped bf16
    /// bytes when the tensors are stored bf16 and unchanged (the rows of the
    /// parts addressed in place, never copied or widened); otherwise from a
    /// float copy (fp32 files, LoRA-merged tensors).
    private static func pack(weights: ModelWeights, names: [String], n: Int, k: Int,
                             context: ComputeContext) throws -> ScratchBuffer {
        let bytes = colpali_bf16_packed_bytes(Int32(n), Int32(k))
        let storage = ScratchBuffer(bytes: bytes)
        let target = UnsafeSendable(storage.pointer.bindMemory(to: UInt16.self, capacity: max(1, bytes / 2)))
        let panels = Int(colpali_bf16_panel_count(Int32(n)))
        let stored = try names.map { try weights.storedEntry($0) }
        if stored.allSatisfy({ $0?.info.dtype == .bf16 }) {
            var rows: [UnsafePointer<UInt16>?] = []
            rows.reserveCapacity(n)
            for entry in stored.compactMap({ $0 }) {
                entry.file.prefault(entry.info)
                let base = entry.file.bytes(entry.info).bindMemory(to: UInt16.self).baseAddress!
                for row in 0..<entry.info.shape[0] { rows.append(base + row * k) }
            }
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
            floats.withUnsafeBufferPointer { source in
                let shared = UnsafeSendable(source.baseAddress!)
                context.parallel(panels) { begin, end in
                    colpali_bf16_pack_strided(shared.value, k, 1, Int32(n), Int32(k), target.value, Int32(begin), Int32(end))
                }
            }
        }
        return storage
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
            let product = BF16Product(packed: storage.pointer.assumingMemoryBound(to: UInt16.self), n: outFeatures,
                                      k: inFeatures)
            product.apply(x, lda: lda, rows: rows, into: out.pointer, ldc: outFeatures, bias: bias.map { UnsafePointer($0) },
                          converted: .linearInput, workspace: workspace, context: context)
        }
    }
}
