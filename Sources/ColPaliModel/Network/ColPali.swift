import COpenBLAS
import ColPaliMath
import Foundation

public enum ModelError: Error, CustomStringConvertible, Sendable {
    case imageTokenMismatch(expected: Int, found: Int)
    case tokenOutOfRange(Int, vocabulary: Int)

    public var description: String {
        switch self {
        case .imageTokenMismatch(let expected, let found):
            return "a document prompt must hold \(expected) image tokens, it has \(found)"
        case .tokenOutOfRange(let id, let vocabulary):
            return "token id \(id) is outside the model's vocabulary of \(vocabulary)"
        }
    }
}

/// The ColPali network in Swift: SigLIP -> projector -> Gemma -> a linear map
/// to `embeddingDim`, L2-normalised. Load once, embed many.
public final class ColPali: @unchecked Sendable {
    package let checkpoint: ColPaliCheckpoint
    public let precision: Precision
    public let context: ComputeContext
    let vision: SigLIPVisionTower
    let projector: Linear
    let decoder: GemmaDecoder
    let head: Linear
    let embeddings: Checkpoint.Entry?
    let embeddingFallback: [Float]?
    /// sqrt(hidden) rounded to float32, as transformers multiplies text embeddings.
    let embeddingScale: Float

    package var configuration: ColPaliConfiguration { checkpoint.configuration }
    package var processor: ColPaliProcessor { checkpoint.processor }

    /// The checkpoint's name for people: `org/name@<commit>` or its directory.
    public var identifier: String { checkpoint.identifier }
    /// What the model is by content (`sha256:...` of its configuration,
    /// tokenizer and weights): the same wherever the files are.
    public var identity: String { checkpoint.identity }
    /// Floats in each output row (128 for ColPali).
    public var embeddingDimension: Int { configuration.embeddingDim }
    /// Side of a page's patch grid (32 for ColPali: 1,024 patch rows).
    public var patchGrid: Int { configuration.vision.patchesPerSide }

    package init(checkpoint: ColPaliCheckpoint, precision: Precision = .fastest, context: ComputeContext = ComputeContext()) throws {
        self.checkpoint = checkpoint
        self.precision = precision
        self.context = context
        let weights = checkpoint.weights
        let config = checkpoint.configuration
        vision = try SigLIPVisionTower(weights: weights, config: config.vision, precision: precision, context: context)
        projector = try Linear(weights: weights, names: ["multi_modal_projector.linear.weight"],
                               biasNames: ["multi_modal_projector.linear.bias"], precision: precision, context: context)
        decoder = try GemmaDecoder(weights: weights, config: config.text, precision: precision, context: context)
        head = try Linear(weights: weights, names: ["embedding_proj_layer.weight"], biasNames: ["embedding_proj_layer.bias"],
                          precision: .fp32, context: context)
        // The vocabulary table stays mapped: only the rows of text tokens are read.
        embeddings = try weights.storedEntry("language_model.embed_tokens.weight")
        embeddingFallback = embeddings == nil ? try weights.floats("language_model.embed_tokens.weight") : nil
        embeddingScale = Float(Double(config.text.hiddenSize).squareRoot())
    }

    /// Loads a checkpoint (directory or Hub id) and builds the network, in the
    /// fastest precision this CPU has (as the command-line tools do).
    public static func load(_ reference: String, precision: Precision = .fastest, locator: ModelLocator = ModelLocator(),
                            context: ComputeContext = ComputeContext()) async throws -> ColPali {
        try ColPali(checkpoint: try await ColPaliCheckpoint.load(reference, locator: locator),
                         precision: precision, context: context)
    }

    // MARK: Embedding

    public func embedDocuments(_ images: [RGBImage], format: PromptFormat) throws -> [MultiVector] {
        try forward(images.map { processor.document($0, format: format) })
    }

    public func embedQueries(_ queries: [String], format: PromptFormat) throws -> [MultiVector] {
        try forward(queries.map { try processor.query($0, format: format) })
    }

    /// Embeds prepared inputs (documents and queries may be mixed): one
    /// multi-vector per input, every token, no padding. Inputs are run as one
    /// batch: the matrix multiplies see all their rows at once, attention stays
    /// within each input.
    package func forward(_ inputs: [ModelInput], record: StageRecorder? = nil) throws -> [MultiVector] {
        guard !inputs.isEmpty else { return [] }
        let config = configuration
        let hidden = config.text.hiddenSize
        let workspace = Workspace()
        let imageInputs = inputs.compactMap(\.pixelValues)
        var imageFeatures: Matrix?
        if !imageInputs.isEmpty {
            let visual = vision(imageInputs, workspace: workspace, context: context, record: record)
            let projected = Matrix(rows: visual.rows, cols: hidden)
            projector.apply(visual.pointer, rows: visual.rows, into: projected, workspace: workspace, context: context)
            record?("projector", projected)
            imageFeatures = projected
        }

        var segments: [Range<Int>] = []
        var start = 0
        for input in inputs {
            segments.append(start..<(start + input.inputIds.count))
            start += input.inputIds.count
        }
        let h = Matrix(rows: start, cols: hidden)
        var imageIndex = 0
        for (input, segment) in zip(inputs, segments) {
            let imageRows = input.inputIds.filter { $0 == config.imageTokenIndex }.count
            if input.pixelValues != nil, imageRows != config.imageTokens {
                throw ModelError.imageTokenMismatch(expected: config.imageTokens, found: imageRows)
            }
            var patch = 0
            for (offset, id) in input.inputIds.enumerated() {
                let target = h.row(segment.lowerBound + offset)
                if id == config.imageTokenIndex, input.pixelValues != nil, let features = imageFeatures {
                    // Image positions take the projected patches in order, unscaled.
                    target.update(from: features.row(imageIndex * config.imageTokens + patch), count: hidden)
                    patch += 1
                } else {
                    try embed(token: id, into: target)
                }
            }
            if input.pixelValues != nil { imageIndex += 1 }
        }
        record?("lm.inputs_embeds", h)

        let final = decoder(h, segments: segments, workspace: workspace, context: context, record: record)
        let dim = config.embeddingDim
        let projected = Matrix(rows: final.rows, cols: dim)
        head.apply(final.pointer, rows: final.rows, into: projected, workspace: workspace, context: context)
        context.parallel(projected.rows, minimumChunk: 64) { begin, end in
            colpali_l2_normalize_rows(projected.pointer, Int32(dim), Int32(begin), Int32(end))
        }
        record?("embeddings", projected)
        Profile.report()
        return zip(inputs, segments).map { input, segment in
            // A page's image tokens lead its prompt: those rows are the patch grid.
            let patches = input.pixelValues == nil ? 0 : input.inputIds.prefix { $0 == config.imageTokenIndex }.count
            return MultiVector(rows: segment.count, dim: dim, values: projected.values(rows: segment), patchRows: patches)
        }
    }

    /// embed[id] * sqrt(hidden), read from the mapped table.
    private func embed(token id: Int, into target: UnsafeMutablePointer<Float>) throws {
        let hidden = configuration.text.hiddenSize
        let vocabulary = configuration.text.vocabSize
        guard id >= 0, id < vocabulary else { throw ModelError.tokenOutOfRange(id, vocabulary: vocabulary) }
        if let fallback = embeddingFallback {
            for i in 0..<hidden { target[i] = fallback[id * hidden + i] * embeddingScale }
            return
        }
        guard let entry = embeddings else { return }
        let raw = entry.file.bytes(entry.info)
        switch entry.info.dtype {
        case .bf16:
            for i in 0..<hidden {
                target[i] = bf16ToFloat(raw.loadUnaligned(fromByteOffset: (id * hidden + i) * 2, as: UInt16.self)) * embeddingScale
            }
        case .f16:
            for i in 0..<hidden {
                target[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: (id * hidden + i) * 2, as: UInt16.self))) * embeddingScale
            }
        default:
            for i in 0..<hidden {
                target[i] = raw.loadUnaligned(fromByteOffset: (id * hidden + i) * 4, as: Float.self) * embeddingScale
            }
        }
    }
}
