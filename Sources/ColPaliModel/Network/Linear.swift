import COpenBLAS
import ColPaliMath
import Foundation

/// Numeric precision of the matrix multiplies.
public enum Precision: String, Sendable, CaseIterable {
    /// float32 weights and OpenBLAS sgemm: matches the reference to ~1e-6.
    case fp32
    /// bf16 weights (as checkpoints store them), products in AVX-512 BF16
    /// with float32 accumulation; everything else float32.
    case bf16

    /// bf16 where the CPU has AVX-512 BF16, else fp32 (the portable bf16
    /// path is exact but slow).
    public static var fastest: Precision { colpali_bf16_native() != 0 ? .bf16 : .fp32 }
}

/// y = x W^T + b, with W [out, in] as checkpoints store it.
final class Linear: @unchecked Sendable {
    let inFeatures: Int
    let outFeatures: Int
    let bias: [Float]?
    private let floatWeight: [Float]?
    private let packed: PackedBuffer?

    /// Several checkpoint tensors stacked along the output dimension (e.g.
    /// q, k, v) become one wider Linear: one pass over the input.
    init(weights: ModelWeights, names: [String], biasNames: [String]?, precision: Precision,
         context: ComputeContext) throws {
        let shapes = try names.map { try weights.shape($0) }
        inFeatures = shapes[0].dropFirst().reduce(1, *)
        outFeatures = shapes.reduce(0) { $0 + $1[0] }
        bias = try biasNames.map { try $0.flatMap { try weights.floats($0) } }
        switch precision {
        case .fp32:
            floatWeight = try names.flatMap { try weights.floats($0) }
            packed = nil
        case .bf16:
            packed = try Self.pack(weights: weights, names: names, n: outFeatures, k: inFeatures, context: context)
            floatWeight = nil
        }
        for name in names { weights.release(name) }
    }

    /// The weight in the bf16 kernel's panel layout: from the mapped bf16
    /// bytes when the tensors are stored bf16 and unchanged (the rows of the
    /// parts addressed in place, never copied or widened); otherwise from a
    /// float copy (fp32 files, LoRA-merged tensors).
    private static func pack(weights: ModelWeights, names: [String], n: Int, k: Int,
                             context: ComputeContext) throws -> PackedBuffer {
        let storage = PackedBuffer(bytes: colpali_bf16_packed_bytes(Int32(n), Int32(k)))
        let target = UnsafeSendable(storage.pointer)
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

    /// The bias as a stable pointer for the C kernels (nil when there is none).
    private lazy var biasStorage: UnsafeMutablePointer<Float>? = {
        guard let bias else { return nil }
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: bias.count)
        storage.initialize(from: bias, count: bias.count)
        return storage
    }()

    deinit { biasStorage?.deallocate() }

    /// out[rows, outFeatures] = x[rows, inFeatures (row stride xStride)] W^T + b.
    func apply(_ x: UnsafePointer<Float>, rows: Int, xStride: Int? = nil, into out: Matrix, context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "linear \(outFeatures)x\(inFeatures)", flops: 2 * Double(rows * outFeatures * inFeatures)) }
        precondition(out.rows == rows && out.cols == outFeatures)
        let lda = xStride ?? inFeatures
        if let floatWeight {
            floatWeight.withUnsafeBufferPointer { w in
                var beta: Float = 0
                if let bias {
                    for r in 0..<rows { (out.pointer + r * outFeatures).update(from: bias, count: outFeatures) }
                    beta = 1
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
                            1, x, Int32(lda), w.baseAddress, Int32(inFeatures), beta, out.pointer, Int32(outFeatures))
            }
            return
        }
        guard let packed = packed?.pointer else { return }
        let stride = Int(colpali_bf16_stride(Int32(inFeatures)))
        let converted = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, rows * stride))
        defer { converted.deallocate() }
        context.parallel(rows, minimumChunk: 16) { begin, end in
            colpali_bf16_from_float(x, Int32(lda), Int32(inFeatures), Int32(begin), Int32(end), converted)
        }
        let panels = Int(colpali_bf16_panel_count(Int32(outFeatures)))
        let biasPointer = biasStorage
        context.parallel(panels) { begin, end in
            colpali_bf16_gemm(converted, Int32(rows), Int32(inFeatures), packed, Int32(outFeatures), out.pointer,
                              Int32(outFeatures), biasPointer, Int32(begin), Int32(end))
        }
    }
}

