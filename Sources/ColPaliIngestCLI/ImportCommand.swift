import ArgumentParser
import ColPaliCLISupport
import ColPaliCore
import ColPaliIngest
import ColPaliStorage
import Foundation

/// `colpali-ingest import FILE --embeddings EMB`: a document with page
/// vectors computed elsewhere (colpali-engine on a GPU, say).
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store a document with page multi-vectors computed elsewhere (.npy, .npz or .safetensors), no model run.",
        discussion: """
            The embeddings hold one multi-vector per selected page, in page order: pages x rows x dim in one array, \
            or one rows x dim array per page (page_1, page_2, ... in .npz or .safetensors). They must come from the \
            collection's model: name it with --model-name (or in the safetensors metadata as 'model'). \
            See docs/import.md for a colpali-engine example.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: IngestFlags

    @Argument(help: ArgumentHelp("The PDF or image the vectors were computed from.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("The page multi-vectors.", valueName: "file.npy|.npz|.safetensors")) var embeddings: String
    @Option(name: .customLong("model-name"), help: ArgumentHelp(
        "The model that computed them, e.g. vidore/colpali-v1.2 (default: the file's own 'model' metadata).", valueName: "name"))
    var modelName: String?
    @Option(help: ArgumentHelp("Prompt format queries of a new collection are embedded with: \(PromptFormat.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "name"))
    var promptFormat: String = PromptFormat.transformers.rawValue
    @Option(name: .customLong("patch-grid"), help: "Side of the model's patch grid (ColPali: 448 / 14 = 32), for similarity maps.")
    var patchGrid = Importer.defaultPatchGrid

    func validate() throws {
        guard (1...256).contains(patchGrid) else { throw ValidationError("--patch-grid must be from 1 to 256") }
        guard PromptFormat(rawValue: promptFormat) != nil else {
            throw ValidationError("unknown prompt format '\(promptFormat)' (known: \(PromptFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() async throws {
        let logger = global.logger(label: "colpali-ingest", defaultLevel: .notice)
        let options = try flags.options()
        let vectors: EmbeddingFile
        do {
            vectors = try EmbeddingFile.read(contentsOf: URL(fileURLWithPath: embeddings))
        } catch let error as EmbeddingFile.ReadError {
            throw CLIError("\(embeddings): \(error)")
        }
        guard let name = modelName ?? vectors.modelName else {
            throw ValidationError("name the model that computed the embeddings with --model-name (e.g. vidore/colpali-v1.2)")
        }
        let source = try SourceFile(path: file)
        let database = try await global.open(.createIfNeeded, command: "colpali-ingest", logger: logger)
        let (format, grid) = (PromptFormat(rawValue: promptFormat)!, patchGrid)
        let outcome = try await Database.withClient(database, logger: logger) { client in
            try await Importer(client: client, logger: logger).importDocument(source, embeddings: vectors, modelName: name,
                                                                             promptFormat: format, patchGrid: grid, options: options)
        }
        switch outcome {
        case .alreadyStored(let id): print("skipped \(file): already stored as document \(id) (--force replaces its pages)")
        default: print("imported \(file): \(outcome)")
        }
    }
}
