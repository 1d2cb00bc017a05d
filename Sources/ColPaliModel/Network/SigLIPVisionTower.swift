import ColPaliMath
import Foundation

/// The SigLIP vision encoder: 14x14 patches embedded by a linear map (the
/// convolution's weight reshaped), plus learned positions; pre-LN transformer
/// layers with biased projections and GELU; a final LayerNorm.
final class SigLIPVisionTower: @unchecked Sendable {
    struct Layer {
        let norm1: LayerNorm
        let qkv: Linear
        let out: Linear
        let norm2: LayerNorm
        let fc1: Linear
        let fc2: Linear
    }

    let config: SigLIPConfiguration
    let precision: Precision
    let patchEmbedding: Linear
    let positions: [Float]
    let layers: [Layer]
    let postNorm: LayerNorm
    let attention: AttentionLayout

    init(weights: ModelWeights, config: SigLIPConfiguration, precision: Precision, context: ComputeContext) throws {
        self.config = config
        self.precision = precision
        let p = "vision_tower."
        patchEmbedding = try Linear(weights: weights, names: [p + "embeddings.patch_embedding.weight"],
                                    biasNames: [p + "embeddings.patch_embedding.bias"], precision: precision, context: context)
        positions = try weights.floats(p + "embeddings.position_embedding.weight")
        layers = try (0..<config.layers).map { index in
            let l = p + "encoder.layers.\(index)."
            let a = l + "self_attn."
            return Layer(
                norm1: try LayerNorm(weights: weights, prefix: l + "layer_norm1", eps: config.layerNormEps),
                qkv: try Linear(weights: weights, names: [a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"],
                                biasNames: [a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"], precision: precision, context: context),
                out: try Linear(weights: weights, names: [a + "out_proj.weight"], biasNames: [a + "out_proj.bias"], precision: precision, context: context),
                norm2: try LayerNorm(weights: weights, prefix: l + "layer_norm2", eps: config.layerNormEps),
                fc1: try Linear(weights: weights, names: [l + "mlp.fc1.weight"], biasNames: [l + "mlp.fc1.bias"], precision: precision, context: context),
                fc2: try Linear(weights: weights, names: [l + "mlp.fc2.weight"], biasNames: [l + "mlp.fc2.bias"], precision: precision, context: context))
        }
        postNorm = try LayerNorm(weights: weights, prefix: p + "post_layernorm", eps: config.layerNormEps)
        attention = AttentionLayout(heads: config.attentionHeads, keyValueHeads: config.attentionHeads, headDim: config.headDim)
    }

    /// Rows of patch pixels: patch index = row * grid + col; a patch's pixels
    /// in (channel, y, x) order, as the convolution reads them.
    func patches(_ pixelValues: [[Float]]) -> Matrix {
        let size = config.imageSize, patch = config.patchSize, grid = config.patchesPerSide
        let channels = config.channels
        let width = channels * patch * patch
        let out = Matrix(rows: pixelValues.count * config.patchCount, cols: width)
        for (image, pixels) in pixelValues.enumerated() {
            for py in 0..<grid {
                for px in 0..<grid {
                    var dst = out.row(image * config.patchCount + py * grid + px)
                    for c in 0..<channels {
                        for y in 0..<patch {
                            let src = c * size * size + (py * patch + y) * size + px * patch
                            for x in 0..<patch {
                                dst.pointee = pixels[src + x]
                                dst += 1
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// [images * patches, hidden] for a batch of pixel values [3, size, size].
    func callAsFunction(_ pixelValues: [[Float]], workspace: Workspace, context: ComputeContext, record: StageRecorder?) -> Matrix {
        let tokens = pixelValues.count * config.patchCount
        let hidden = config.hiddenSize
        let patchRows = patches(pixelValues)
        let h = Matrix(rows: tokens, cols: hidden)
        patchEmbedding.apply(patchRows.pointer, rows: tokens, into: h, workspace: workspace, context: context)
        // Learned positions: one [patches, hidden] table added to every image.
        positions.withUnsafeBufferPointer { table in
            let shared = UnsafeSendable(table.baseAddress!)
            for image in 0..<pixelValues.count {
                let rows = h.row(image * config.patchCount)
                context.parallel(table.count, minimumChunk: 1 << 16) { begin, end in
                    colpali_add(rows, shared.value, begin, end)
                }
            }
        }
        let segments = (0..<pixelValues.count).map { ($0 * config.patchCount)..<(($0 + 1) * config.patchCount) }
        record?("vision.embeddings", h)

        let normed = Matrix(rows: tokens, cols: hidden)
        let qkv = Matrix(rows: tokens, cols: attention.fusedWidth)
        let attended = Matrix(rows: tokens, cols: hidden)
        let projected = Matrix(rows: tokens, cols: hidden)
        let fusedGELU = layers.first.map { $0.fc1.isPacked && $0.fc2.isPacked } == true && config.tanhGELU
            && colpali_bf16_geglu_fused() != 0
        let intermediate = Matrix(rows: fusedGELU ? 0 : tokens, cols: config.intermediateSize)
        let scale = 1 / Float(config.headDim).squareRoot()
        for (index, layer) in layers.enumerated() {
            layer.norm1.apply(h, into: normed, context: context)
            layer.qkv.apply(normed.pointer, rows: tokens, into: qkv, workspace: workspace, context: context)
            attention.attend(qkv, segments: segments, scale: scale, into: attended, precision: precision,
                             workspace: workspace, context: context)
            layer.out.apply(attended.pointer, rows: tokens, into: projected, workspace: workspace, context: context)
            context.add(h, projected)
            layer.norm2.apply(h, into: normed, context: context)
            if fusedGELU {
                // On the AMX kernels GELU is applied to fc1's finished tiles,
                // which go to bf16 for fc2 at once: the 1,024 x 4,304 floats
                // are never written, read back for GELU, or converted.
                let hidden = workspace.bf16(.mlpHidden, count: colpali_bf16_a_elements(Int32(tokens), Int32(config.intermediateSize)))
                layer.fc1.applyGELU(normed.pointer, rows: tokens, into: hidden, workspace: workspace, context: context)
                layer.fc2.apply(converted: hidden, rows: tokens, into: projected, context: context)
            } else {
                layer.fc1.apply(normed.pointer, rows: tokens, into: intermediate, workspace: workspace, context: context)
                let count = tokens * config.intermediateSize
                let tanh = config.tanhGELU
                context.parallel(count, minimumChunk: 1 << 15) { begin, end in
                    if tanh { colpali_gelu_tanh(intermediate.pointer, begin, end) } else { colpali_gelu_erf(intermediate.pointer, begin, end) }
                }
                layer.fc2.apply(intermediate.pointer, rows: tokens, into: projected, workspace: workspace, context: context)
            }
            context.add(h, projected)
            record?("vision.layer.\(index)", h)
        }
        let out = Matrix(rows: tokens, cols: hidden)
        postNorm.apply(h, into: out, context: context)
        record?("vision.post_layernorm", out)
        return out
    }
}

/// Receives intermediate results by name (tests compare them with the reference).
package typealias StageRecorder = (String, Matrix) -> Void
