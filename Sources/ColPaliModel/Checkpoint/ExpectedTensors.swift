/// The tensors a ColPali model of a given configuration has, with shapes.
/// Loading checks a checkpoint against this list both ways, so a missing
/// tensor or one the architecture does not know is an error naming it.
enum ExpectedTensors {
    static func shapes(for config: ColPaliConfiguration) -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        let v = config.vision, t = config.text
        let vp = "vision_tower."
        shapes[vp + "embeddings.patch_embedding.weight"] = [v.hiddenSize, v.channels, v.patchSize, v.patchSize]
        shapes[vp + "embeddings.patch_embedding.bias"] = [v.hiddenSize]
        shapes[vp + "embeddings.position_embedding.weight"] = [v.patchCount, v.hiddenSize]
        for layer in 0..<v.layers {
            let p = vp + "encoder.layers.\(layer)."
            for norm in ["layer_norm1", "layer_norm2"] {
                shapes[p + norm + ".weight"] = [v.hiddenSize]
                shapes[p + norm + ".bias"] = [v.hiddenSize]
            }
            for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                shapes[p + "self_attn.\(projection).weight"] = [v.hiddenSize, v.hiddenSize]
                shapes[p + "self_attn.\(projection).bias"] = [v.hiddenSize]
            }
            shapes[p + "mlp.fc1.weight"] = [v.intermediateSize, v.hiddenSize]
            shapes[p + "mlp.fc1.bias"] = [v.intermediateSize]
            shapes[p + "mlp.fc2.weight"] = [v.hiddenSize, v.intermediateSize]
            shapes[p + "mlp.fc2.bias"] = [v.hiddenSize]
        }
        shapes[vp + "post_layernorm.weight"] = [v.hiddenSize]
        shapes[vp + "post_layernorm.bias"] = [v.hiddenSize]
        shapes["multi_modal_projector.linear.weight"] = [config.projectionDim, v.hiddenSize]
        shapes["multi_modal_projector.linear.bias"] = [config.projectionDim]

        let lp = "language_model."
        shapes[lp + "embed_tokens.weight"] = [t.vocabSize, t.hiddenSize]
        for layer in 0..<t.layers {
            let p = lp + "layers.\(layer)."
            shapes[p + "input_layernorm.weight"] = [t.hiddenSize]
            shapes[p + "post_attention_layernorm.weight"] = [t.hiddenSize]
            shapes[p + "self_attn.q_proj.weight"] = [t.attentionHeads * t.headDim, t.hiddenSize]
            shapes[p + "self_attn.k_proj.weight"] = [t.keyValueHeads * t.headDim, t.hiddenSize]
            shapes[p + "self_attn.v_proj.weight"] = [t.keyValueHeads * t.headDim, t.hiddenSize]
            shapes[p + "self_attn.o_proj.weight"] = [t.hiddenSize, t.attentionHeads * t.headDim]
            shapes[p + "mlp.gate_proj.weight"] = [t.intermediateSize, t.hiddenSize]
            shapes[p + "mlp.up_proj.weight"] = [t.intermediateSize, t.hiddenSize]
            shapes[p + "mlp.down_proj.weight"] = [t.hiddenSize, t.intermediateSize]
        }
        shapes[lp + "norm.weight"] = [t.hiddenSize]
        shapes["embedding_proj_layer.weight"] = [config.embeddingDim, t.hiddenSize]
        shapes["embedding_proj_layer.bias"] = [config.embeddingDim]
        return shapes
    }
}
