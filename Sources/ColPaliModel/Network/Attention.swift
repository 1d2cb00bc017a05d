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

    /// Query rows per unit of work in the bf16 path: a block's scores (64 x
    /// 1,030 floats, 260 KB) and their bf16 copy stay in L2 from the first
    /// product through softmax to the second.
    private static let blockRows = 64

    /// Both products on the bf16 kernel: keys packed as the "weight" of
    /// q k^T, values transposed as the "weight" of p v; softmax's
    /// exponentials in float32, written as bf16 for p v in the same pass
    /// (colpali_bf16_softmax_rows), the division by their sum done on p v's
    /// output. (Softmax in place and then a conversion took 41 us for 64
    /// rows of 1,030 keys, the fused pass 27; Xeon, cpu family 6 model 207.)
    /// Every key-value head is packed first; then each thread takes (head,
    /// block of query rows) units as threads become free and runs the whole
    /// chain for its block in its own scratch. (Head after head with each
    /// product split across threads, the 4 MB score matrix went through
    /// memory three times per head, and attention took a sixth of a page.)
    private func attendBF16(_ qkv: Matrix, segment: Range<Int>, scale: Float, into out: Matrix, workspace: Workspace,
                            context: ComputeContext) {
        let length = segment.count
        let base = UnsafeSendable(UnsafePointer(qkv.row(segment.lowerBound)))
        let ld = qkv.cols
        let (t, d) = (Int32(length), Int32(headDim))
        let keyElements = colpali_bf16_packed_bytes(t, d) / 2
        let valueElements = colpali_bf16_packed_bytes(d, t) / 2
        let keyPanels = Int(colpali_bf16_panel_count(t))
        let valuePanels = Int(colpali_bf16_panel_count(d))
        let keys = UnsafeSendable(workspace.bf16(.keys, count: keyValueHeads * keyElements))
        let values = UnsafeSendable(workspace.bf16(.values, count: keyValueHeads * valueElements))
        let (keyOffset, valueOffset, headDim) = (keyOffset, valueOffset, headDim)
        context.parallel(keyValueHeads * keyPanels) { begin, end in
            for unit in begin..<end {
                let (kv, panel) = unit.quotientAndRemainder(dividingBy: keyPanels)
                colpali_bf16_pack_strided(base.value + keyOffset + kv * headDim, ld, 1, t, d, keys.value + kv * keyElements,
                                          Int32(panel), Int32(panel + 1))
            }
        }
        context.parallel(keyValueHeads * valuePanels) { begin, end in
            for unit in begin..<end {
                let (kv, panel) = unit.quotientAndRemainder(dividingBy: valuePanels)
                colpali_bf16_pack_strided(base.value + valueOffset + kv * headDim, 1, ld, d, t,
                                          values.value + kv * valueElements, Int32(panel), Int32(panel + 1))
            }
        }

        let blockRows = Self.blockRows
        let blocks = (length + blockRows - 1) / blockRows
        let units = heads * blocks
        let workers = min(context.threads, units)
        let readsFloat = colpali_bf16_reads_float() != 0
        let scoreCount = blockRows * length
        let queryElements = colpali_bf16_a_elements(Int32(blockRows), d)
        let probabilityElements = colpali_bf16_a_elements(Int32(blockRows), t)
        let scores = UnsafeSendable(workspace.floats(.scores, count: workers * scoreCount))
        let queries = UnsafeSendable(workspace.bf16(.queries, count: workers * queryElements))
        let probabilities = UnsafeSendable(workspace.bf16(.probabilities, count: workers * probabilityElements))
        let output = UnsafeSendable(out.row(segment.lowerBound))
        let (outStride, groupSize) = (out.cols, heads / keyValueHeads)
        // A unit per chunk, handed out as threads become free; each worker
        // runs its units in its own scratch.
        context.parallelByWorker(units, chunksPerThread: units) { worker, begin, end in
            let scores = scores.value + worker * scoreCount
            let queries = queries.value + worker * queryElements
            let probabilities = probabilities.value + worker * probabilityElements
            for unit in begin..<end {
                let (head, block) = unit.quotientAndRemainder(dividingBy: blocks)
                let kv = head / groupSize
                let first = block * blockRows
                let rows = Int32(min(blockRows, length - first))
                let q = base.value + first * ld + head * headDim
                let o = output.value + first * outStride + head * headDim
                let (k, v) = (keys.value + kv * keyElements, values.value + kv * valueElements)
                if readsFloat {
                    colpali_bf16_gemm_float(q, Int32(ld), rows, d, k, t, scores, t, nil, 0, Int32(keyPanels))
                } else {
                    colpali_bf16_from_float(q, Int32(ld), d, 0, rows, queries)
                    colpali_bf16_gemm(queries, rows, d, k, t, scores, t, nil, 0, Int32(keyPanels))
                }
                if readsFloat {
                    colpali_softmax_rows(scores, t, t, scale, 0, rows)
                    colpali_bf16_gemm_float(scores, t, rows, t, v, d, o, Int32(outStride), nil, 0, Int32(valuePanels))
                    continue
                }
                // The exponentials go to bf16 unnormalised, in one pass; each
                // output row is divided by its sum after the product.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: blockRows) { inverseSums in
                    let inverse = inverseSums.baseAddress!
                    colpali_bf16_softmax_rows(scores, t, t, scale, 0, rows, probabilities, inverse)
                    colpali_bf16_gemm(probabilities, rows, t, v, d, o, Int32(outStride), nil, 0, Int32(valuePanels))
                    for r in 0..<Int(rows) {
                        let row = o + r * outStride
                        for j in 0..<headDim { row[j] *= inverse[r] }
                    }
                }
            }
        }
    }
}
