import COpenBLAS
import ColPaliMath
import Foundation

/// Multi-head attention over rows that hold [q | k | v] side by side, each
/// item (a segment of rows: one page or one query) attending only within
/// itself, every key visible (ColPali's prefix is bidirectional). Grouped /
/// multi-query attention when there are fewer key-value heads than heads.
struct AttentionLayout {
    let heads: Int
    let keyValueHeads: Int
    let headDim: Int

    var queryWidth: Int { heads * headDim }
    var keyOffset: Int { queryWidth }
    var valueOffset: Int { queryWidth + keyValueHeads * headDim }
    var fusedWidth: Int { queryWidth + 2 * keyValueHeads * headDim }

    /// out[r, h * d ..< (h + 1) * d] = softmax(scale * q_h k^T) v for each segment.
    func attend(_ qkv: Matrix, segments: [Range<Int>], scale: Float, into out: Matrix, precision: Precision,
                workspace: Workspace, context: ComputeContext) {
        let started = Profile.start()
        defer { Profile.stop(started, "attention \(heads)x\(headDim)") }
        for segment in segments {
            switch precision {
            case .fp32: attendFloat(qkv, segment: segment, scale: scale, into: out, workspace: workspace, context: context)
            case .bf16: attendBF16(qkv, segment: segment, scale: scale, into: out, workspace: workspace, context: context)
            }
        }
    }

    /// float32 throughout, with OpenBLAS: the exact path.
    private func attendFloat(_ qkv: Matrix, segment: Range<Int>, scale: Float, into out: Matrix, workspace: Workspace,
                             context: ComputeContext) {
        let ld = Int32(qkv.cols)
        let length = segment.count
        let scores = UnsafeSendable(workspace.floats(.scores, count: length * length))
        let base = qkv.row(segment.lowerBound)
        for head in 0..<heads {
            let kv = head / (heads / keyValueHeads)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(length), Int32(headDim),
                        1, base + head * headDim, ld, base + keyOffset + kv * headDim, ld, 0, scores.value, Int32(length))
            context.parallel(length, minimumChunk: 32) { begin, end in
                colpali_softmax_rows(scores.value, Int32(length), Int32(length), scale, Int32(begin), Int32(end))
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(headDim), Int32(length),
                        1, scores.value, Int32(length), base + valueOffset + kv * headDim, ld, 0,
                        out.row(segment.lowerBound) + head * headDim, Int32(out.cols))
        }
    }

    /// Both products on the bf16 kernel: keys packed as the "weight" of
    /// q k^T, values transposed as the "weight" of p v; softmax in float32.
    private func attendBF16(_ qkv: Matrix, segment: Range<Int>, scale: Float, into out: Matrix, workspace: Workspace,
                            context: ComputeContext) {
        let length = segment.count
        let base = qkv.row(segment.lowerBound)
        let ld = qkv.cols
        let keyPanels = Int(colpali_bf16_panel_count(Int32(length)))
        let valuePanels = Int(colpali_bf16_panel_count(Int32(headDim)))
        let keys = UnsafeSendable(workspace.bf16(.keys, count: colpali_bf16_packed_bytes(Int32(length), Int32(headDim)) / 2))
        let values = UnsafeSendable(workspace.bf16(.values, count: colpali_bf16_packed_bytes(Int32(headDim), Int32(length)) / 2))
        let scores = UnsafeSendable(workspace.floats(.scores, count: length * length))
        let (t, d) = (Int32(length), Int32(headDim))
        var packedGroup = -1
        for head in 0..<heads {
            let kv = head / (heads / keyValueHeads)
            if kv != packedGroup {
                let k = UnsafeSendable(UnsafePointer(base + keyOffset + kv * headDim))
                let v = UnsafeSendable(UnsafePointer(base + valueOffset + kv * headDim))
                context.parallel(keyPanels) { begin, end in
                    colpali_bf16_pack_strided(k.value, ld, 1, t, d, keys.value, Int32(begin), Int32(end))
                }
                context.parallel(valuePanels) { begin, end in
                    colpali_bf16_pack_strided(v.value, 1, ld, d, t, values.value, Int32(begin), Int32(end))
                }
                packedGroup = kv
            }
            BF16Product(packed: keys.value, n: length, k: headDim)
                .apply(base + head * headDim, lda: ld, rows: length, into: scores.value, ldc: length, bias: nil,
                       converted: .queries, workspace: workspace, context: context)
            context.parallel(length, minimumChunk: 32) { begin, end in
                colpali_softmax_rows(scores.value, t, t, scale, Int32(begin), Int32(end))
            }
            BF16Product(packed: values.value, n: headDim, k: length)
                .apply(scores.value, lda: length, rows: length, into: out.row(segment.lowerBound) + head * headDim,
                       ldc: out.cols, bias: nil, converted: .probabilities, workspace: workspace, context: context)
        }
    }
}
