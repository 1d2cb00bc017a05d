import Foundation

/// Everything needed to run a ColPali model, loaded from a model directory
/// or Hub id: the configuration, the weights (with a LoRA adapter merged for
/// colpali-engine checkpoints), and the processor (tokenizer, image
/// preprocessing, prompts).
package struct ColPaliCheckpoint: Sendable {
    package let identifier: String
    /// ModelIdentity of the files this checkpoint was loaded from.
    package let identity: String
    package let directory: URL
    package let configuration: ColPaliConfiguration
    package let weights: ModelWeights
    package let processor: ColPaliProcessor

    /// Loads `reference` (a directory or `org/name[@revision]`). For an
    /// adapter, its `base_model_name_or_path` is found the same way.
    package static func load(_ reference: String, locator: ModelLocator = ModelLocator()) async throws -> ColPaliCheckpoint {
        let located = try await locator.locate(reference)
        return try await load(located, locator: locator)
    }

    package static func load(_ located: ModelLocator.Located, locator: ModelLocator) async throws -> ColPaliCheckpoint {
        let directory = located.directory
        var adapter: LoRAAdapter?
        var baseDirectory = directory
        if LoRAAdapter.isAdapter(directory) {
            let loaded = try LoRAAdapter(directory: directory)
            adapter = loaded
            do {
                baseDirectory = try await locateBase(loaded.baseModel, adapterDirectory: directory, locator: locator)
            } catch {
                throw CheckpointError.invalidAdapter(
                    directory: directory.path,
                    reason: "its base model '\(loaded.baseModel)' cannot be found: \(error)")
            }
        }
        let checkpoint = try Checkpoint(directory: baseDirectory)
        let embeddingDim = checkpoint["embedding_proj_layer.weight"]?.info.shape.first
        let configuration = try ColPaliConfiguration.load(directory: baseDirectory, embeddingDimFromWeights: embeddingDim)
        let weights = try ModelWeights(configuration: configuration, checkpoint: checkpoint, adapter: adapter)

        // Tokenizer and processor settings travel with the adapter when it has them.
        let tokenizerDirectory = [directory, baseDirectory].first {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("tokenizer.json").path)
        }
        guard let tokenizerDirectory else {
            throw CheckpointError.notAColPaliCheckpoint(directory: directory.path, reason: "no tokenizer.json")
        }
        let tokenizer = try GemmaTokenizer(url: tokenizerDirectory.appendingPathComponent("tokenizer.json"))
        let processorDirectory = [directory, baseDirectory].first {
            let manager = FileManager.default
            return manager.fileExists(atPath: $0.appendingPathComponent("processor_config.json").path)
                || manager.fileExists(atPath: $0.appendingPathComponent("preprocessor_config.json").path)
        } ?? baseDirectory
        let imageProcessor = try ImageProcessor.load(directory: processorDirectory, imageSize: configuration.vision.imageSize)
        guard let imageToken = tokenizer.token(for: configuration.imageTokenIndex) else {
            throw CheckpointError.notAColPaliCheckpoint(
                directory: tokenizerDirectory.path,
                reason: "the tokenizer has no token with the image token id \(configuration.imageTokenIndex)")
        }
        let processor = ColPaliProcessor(tokenizer: tokenizer, imageProcessor: imageProcessor,
                                         imageTokens: configuration.imageTokens, imageToken: imageToken)
        let identity = try ModelIdentity.of(directories: directory == baseDirectory ? [directory] : [directory, baseDirectory])
        return ColPaliCheckpoint(identifier: located.identifier, identity: identity, directory: directory,
                                 configuration: configuration, weights: weights, processor: processor)
    }

    /// A base given as a path (absolute, or relative to the adapter) or as a Hub id.
    static func locateBase(_ base: String, adapterDirectory: URL, locator: ModelLocator) async throws -> URL {
        let relative = adapterDirectory.appendingPathComponent(base).standardizedFileURL
        if !base.hasPrefix("/"), FileManager.default.fileExists(atPath: relative.appendingPathComponent("config.json").path) {
            return relative
        }
        return try await locator.locate(base).directory
    }
}
