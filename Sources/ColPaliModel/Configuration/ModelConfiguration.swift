import Foundation

/// The Gemma decoder of PaliGemma. Defaults are transformers' GemmaConfig
/// defaults (for keys a given text_config omits); `paliGemmaDefault` is what
/// PaliGemmaConfig builds when text_config is absent altogether.
package struct GemmaConfiguration: Sendable, Equatable {
    package var vocabSize: Int
    package var hiddenSize: Int
    package var intermediateSize: Int
    package var layers: Int
    package var attentionHeads: Int
    package var keyValueHeads: Int
    package var headDim: Int
    package var rmsNormEps: Float
    package var ropeTheta: Float

    static let paliGemmaDefault = GemmaConfiguration(
        vocabSize: 257152, hiddenSize: 2048, intermediateSize: 16384, layers: 18, attentionHeads: 8,
        keyValueHeads: 1, headDim: 256, rmsNormEps: 1e-6, ropeTheta: 10000)

    init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int, attentionHeads: Int,
         keyValueHeads: Int, headDim: Int, rmsNormEps: Float, ropeTheta: Float) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.attentionHeads = attentionHeads
        self.keyValueHeads = keyValueHeads
        self.headDim = headDim
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
    }

    init(_ json: JSONObject) throws {
        vocabSize = try json.int("vocab_size", default: 256000)
        hiddenSize = try json.int("hidden_size", default: 3072)
        intermediateSize = try json.int("intermediate_size", default: 24576)
        layers = try json.int("num_hidden_layers", default: 28)
        attentionHeads = try json.int("num_attention_heads", default: 16)
        keyValueHeads = try json.int("num_key_value_heads", default: 16)
        // head_dim is not always hidden / heads.
        headDim = try json.int("head_dim", default: 256)
        rmsNormEps = Float(try json.double("rms_norm_eps", default: 1e-6))
        // transformers 5 nests rope_theta under rope_parameters.
        let rope = try json.object("rope_parameters")?.double("rope_theta", default: 10000)
        ropeTheta = Float(try rope ?? json.double("rope_theta", default: 10000))
        // Gemma's activation is tanh-GELU whether the file says
        // gelu_pytorch_tanh or (older files) gelu.
    }
}

/// The SigLIP vision tower.
package struct SigLIPConfiguration: Sendable, Equatable {
    package var hiddenSize: Int
    package var intermediateSize: Int
    package var layers: Int
    package var attentionHeads: Int
    package var channels: Int
    package var imageSize: Int
    package var patchSize: Int
    package var layerNormEps: Float
    /// tanh-approximated GELU (gelu_pytorch_tanh) or exact erf GELU ("gelu").
    package var tanhGELU: Bool

    package var patchesPerSide: Int { imageSize / patchSize }
    package var patchCount: Int { patchesPerSide * patchesPerSide }
    package var headDim: Int { hiddenSize / attentionHeads }

    static let paliGemmaDefault = SigLIPConfiguration(
        hiddenSize: 1152, intermediateSize: 4096, layers: 27, attentionHeads: 16, channels: 3, imageSize: 224,
        patchSize: 14, layerNormEps: 1e-6, tanhGELU: true)

    init(hiddenSize: Int, intermediateSize: Int, layers: Int, attentionHeads: Int, channels: Int, imageSize: Int,
         patchSize: Int, layerNormEps: Float, tanhGELU: Bool) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.attentionHeads = attentionHeads
        self.channels = channels
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.layerNormEps = layerNormEps
        self.tanhGELU = tanhGELU
    }

    init(_ json: JSONObject) throws {
        hiddenSize = try json.int("hidden_size", default: 768)
        intermediateSize = try json.int("intermediate_size", default: 3072)
        layers = try json.int("num_hidden_layers", default: 12)
        attentionHeads = try json.int("num_attention_heads", default: 12)
        channels = try json.int("num_channels", default: 3)
        imageSize = try json.int("image_size", default: 224)
        patchSize = try json.int("patch_size", default: 16)
        layerNormEps = Float(try json.double("layer_norm_eps", default: 1e-6))
        let activation = json.string("hidden_act") ?? "gelu_pytorch_tanh"
        guard ["gelu_pytorch_tanh", "gelu_new", "gelu", "gelu_fast"].contains(activation) else {
            throw CheckpointError.invalidConfiguration(file: json.file, reason: "unsupported vision activation '\(activation)'")
        }
        tanhGELU = activation != "gelu"
    }
}

/// A ColPali model: PaliGemma (SigLIP + projector + Gemma) and the
/// projection to `embeddingDim`.
package struct ColPaliConfiguration: Sendable, Equatable {
    package var text: GemmaConfiguration
    package var vision: SigLIPConfiguration
    package var projectionDim: Int
    package var imageTokenIndex: Int
    package var embeddingDim: Int
    package var padTokenId: Int
    package var bosTokenId: Int
    package var eosTokenId: Int

    /// `<image>` tokens per page: one per vision patch.
    package var imageTokens: Int { vision.patchCount }

    /// Reads a transformers `ColPaliForRetrieval` config (`model_type
    /// "colpali"`, PaliGemma under `vlm_config`) or a plain PaliGemma config
    /// (colpali-engine bases), whose embedding dimension comes from the weights.
    package static func load(directory: URL, embeddingDimFromWeights: Int?) throws -> ColPaliConfiguration {
        let url = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError.notAColPaliCheckpoint(directory: directory.path, reason: "no config.json")
        }
        let json = try JSONObject.load(url)
        switch json.string("model_type") {
        case "colpali":
            let vlm = json.object("vlm_config") ?? JSONObject([:], file: url.path)
            return try ColPaliConfiguration(paliGemma: vlm, embeddingDim: json.int("embedding_dim", default: 128))
        case "paligemma":
            let architectures = json.strings("architectures")
            guard architectures.isEmpty || architectures.contains(where: { $0.contains("ColPali") })
                    || embeddingDimFromWeights != nil else {
                throw CheckpointError.notAColPaliCheckpoint(
                    directory: directory.path, reason: "a PaliGemma model (\(architectures.joined())) without a ColPali projection")
            }
            guard let dim = embeddingDimFromWeights else {
                throw CheckpointError.notAColPaliCheckpoint(
                    directory: directory.path, reason: "PaliGemma weights without custom_text_proj")
            }
            return try ColPaliConfiguration(paliGemma: json, embeddingDim: dim)
        case let other:
            throw CheckpointError.notAColPaliCheckpoint(
                directory: directory.path, reason: "config.json has model_type '\(other ?? "none")', expected 'colpali'")
        }
    }

    init(paliGemma json: JSONObject, embeddingDim: Int) throws {
        text = try json.object("text_config").map(GemmaConfiguration.init) ?? .paliGemmaDefault
        vision = try json.object("vision_config").map(SigLIPConfiguration.init) ?? .paliGemmaDefault
        projectionDim = try json.int("projection_dim", default: 2048)
        imageTokenIndex = try json.int("image_token_index", default: try json.int("image_token_id", default: 256000))
        self.embeddingDim = embeddingDim
        // Informational only (padding is defined by the attention mask); some
        // files write eos as a list, hence the lenient reads.
        let textJSON = json.object("text_config") ?? json
        padTokenId = (try? textJSON.int("pad_token_id", default: 0)) ?? 0
        bosTokenId = (try? textJSON.int("bos_token_id", default: 2)) ?? 2
        eosTokenId = (try? textJSON.int("eos_token_id", default: 1)) ?? 1
        guard vision.imageSize % vision.patchSize == 0, vision.hiddenSize % vision.attentionHeads == 0 else {
            throw CheckpointError.invalidConfiguration(file: json.file, reason: "vision sizes do not divide evenly")
        }
        guard text.attentionHeads % text.keyValueHeads == 0 else {
            throw CheckpointError.invalidConfiguration(file: json.file, reason: "attention heads not a multiple of KV heads")
        }
    }
}
