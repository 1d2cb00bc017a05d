import ColPaliMath
import Foundation

/// Gemma as PaliGemma uses it for ColPali: pre-norm layers of RMSNorm (1 + w),
/// multi-query attention with RoPE (positions from 1) over the whole prefix,
/// and a GeGLU MLP (tanh GELU of the gate times up); a final RMSNorm.
final class GemmaDecoder: @unchecked Sendable {
    struct Layer {
        let inputNorm: RMSNorm
        let qkv: Linear
        let out: Linear
        let postAttentionNorm: RMSNorm
        let gateUp: Linear
        let down: Linear
    }

    let config: GemmaConfiguration
    let precision: Precision
    let layers: [Layer]
    let finalNorm: RMSNorm
    let attention: AttentionLayout
    /// inv_freq[i] = 1 / theta^(2i / head_dim), computed in float32 as transformers does.
    let inverseFrequencies: [Float]

    init(weights: ModelWeights, config: GemmaConfiguration, precision: Precision, context: ComputeContext) throws {
        self.config = config
        self.precision = precision
        let p = "language_model."
        // On the AMX kernels the MLP's GeGLU is applied as the gate and up
        // product's tiles finish: its 2 x intermediate floats a token are
        // never written, nor read back for GeGLU and the down projection's
        // bf16 copy (about 400 MB a layer for a page).
        let fusedGeGLU = precision == .bf16 && colpali_bf16_geglu_fused() != 0 && config.intermediateSize % 32 == 0
        layers = try (0..<config.layers).map { index in
            let l = p + "layers.\(index)."
            return Layer(
                inputNorm: try RMSNorm(weights: weights, name: l + "input_layernorm.weight", eps: config.rmsNormEps),
                qkv: try Linear(weights: weights, names: [l + "self_attn.q_proj.weight", l + "self_attn.k_proj.weight",
                                                          l + "self_attn.v_proj.weight"], biasNames: nil, precision: precision, context: context),
                out: try Linear(weights: weights, names: [l + "self_attn.o_proj.weight"], biasNames: nil, precision: precision, context: context),
                postAttentionNorm: try RMSNorm(weights: weights, name: l + "post_attention_layernorm.weight", eps: config.rmsNormEps),
                gateUp: try Linear(weights: weights, names: [l + "mlp.gate_proj.weight", l + "mlp.up_proj.weight"],
                                   biasNames: nil, precision: precision, context: context, interleavingHalves: fusedGeGLU),
                down: try Linear(weights: weights, names: [l + "mlp.down_proj.weight"], biasNames: nil, precision: precision, context: context))
        }
        finalNorm = try RMSNorm(weights: weights, name: p + "norm.weight", eps: config.rmsNormEps)
        attention = AttentionLayout(heads: config.attentionHeads, keyValueHeads: config.keyValueHeads, headDim: config.headDim)
        let dim = Float(config.headDim)
        inverseFrequencies = (0..<(config.headDim / 2)).map { i in
            1 / Foundation.pow(config.ropeTheta, Float(2 * i) / dim)
        }
    }

    /// Final-normed hidden states for input embeddings h (modified in place),
    /// each segment one sequence with positions 1...length.
    func callAsFunction(_ h: Matrix, segments: [Range<Int>], workspace: Workspace, context: ComputeContext,
                        record: StageRecorder?) -> Matrix {
        let tokens = h.rows
        let rotary = rotaryTables(segments: segments, tokens: tokens)
        let normed = Matrix(rows: tokens, cols: config.hiddenSize)
        let qkv = Matrix(rows: tokens, cols: attention.fusedWidth)
        let attended = Matrix(rows: tokens, cols: attention.queryWidth)
        let projected = Matrix(rows: tokens, cols: config.hiddenSize)
        let fusedGeGLU = layers.first?.gateUp.interleavesHalves ?? false
        let gateUp = fusedGeGLU ? nil : Matrix(rows: tokens, cols: 2 * config.intermediateSize)
        let scale = 1 / Float(config.headDim).squareRoot()
        let intermediate = config.intermediateSize
        for (index, layer) in layers.enumerated() {
            layer.inputNorm.apply(h, into: normed, context: context)
            layer.qkv.apply(normed.pointer, rows: tokens, into: qkv, workspace: workspace, context: context)
            applyRotary(qkv, tables: rotary, context: context)
            attention.attend(qkv, segments: segments, scale: scale, into: attended, precision: precision,
                             workspace: workspace, context: context)
            layer.out.apply(attended.pointer, rows: tokens, into: projected, workspace: workspace, context: context)
            context.add(h, projected)
            layer.postAttentionNorm.apply(h, into: normed, context: context)
            if let gateUp {
                layer.gateUp.apply(normed.pointer, rows: tokens, into: gateUp, workspace: workspace, context: context)
                context.parallel(tokens, minimumChunk: 4) { begin, end in
                    for row in begin..<end {
                        let gate = gateUp.row(row)
                        colpali_geglu(gate, gate + intermediate, 0, intermediate)
                    }
                }
                layer.down.apply(gateUp.pointer, rows: tokens, xStride: 2 * intermediate, into: projected,
                                 workspace: workspace, context: context)
            } else {
                let hidden = workspace.bf16(.mlpHidden, count: colpali_bf16_a_elements(Int32(tokens), Int32(intermediate)))
                layer.gateUp.applyGeGLU(normed.pointer, rows: tokens, into: hidden, workspace: workspace, context: context)
                layer.down.apply(converted: hidden, rows: tokens, into: projected, context: context)
            }
            context.add(h, projected)
            record?("lm.layer.\(index)", h)
        }
        let out = Matrix(rows: tokens, cols: config.hiddenSize)
        finalNorm.apply(h, into: out, context: context)
        record?("lm.norm", out)
        return out
    }

    /// cos and sin of position * inv_freq for every row (positions 1...length
    /// within each segment), float32 as transformers computes them: the same
    /// in every layer, so built once per forward pass.
    private func rotaryTables(segments: [Range<Int>], tokens: Int) -> (cosines: [Float], sines: [Float]) {
        let half = inverseFrequencies.count
        var cosines = [Float](repeating: 0, count: tokens * half)
        var sines = [Float](repeating: 0, count: tokens * half)
        for segment in segments {
            for (offset, row) in segment.enumerated() {
                let position = Float(offset + 1)
                for (i, frequency) in inverseFrequencies.enumerated() {
                    let angle = position * frequency
                    cosines[row * half + i] = Foundation.cos(angle)
                    sines[row * half + i] = Foundation.sin(angle)
                }
            }
        }
        return (cosines, sines)
    }

    /// RoPE on the query heads and the key heads of every row (the key heads
    /// follow the query heads in each row, so one pass covers both).
    private func applyRotary(_ qkv: Matrix, tables: (cosines: [Float], sines: [Float]), context: ComputeContext) {
        precondition(attention.keyOffset == attention.queryWidth)
        let heads = Int32(config.attentionHeads + config.keyValueHeads)
        tables.cosines.withUnsafeBufferPointer { cosines in
            tables.sines.withUnsafeBufferPointer { sines in
                let shared = UnsafeSendable((cosines.baseAddress!, sines.baseAddress!))
                context.parallel(qkv.rows, minimumChunk: 8) { begin, end in
                    colpali_rope(qkv.pointer, Int32(qkv.cols), heads, Int32(config.headDim), shared.value.0, shared.value.1,
                                 Int32(begin), Int32(end))
                }
            }
        }
    }
}
