import ArgumentParser
import ColPaliCLISupport
import ColPaliModel
import Foundation

/// `colpali embed`: run the native model on images and queries.
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed page images and/or queries with the native ColPali model.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("image"), help: ArgumentHelp("A PNG or JPEG page image (repeatable).", valueName: "file"))
    var images: [String] = []

    @Option(name: .customLong("query"), help: ArgumentHelp("A query (repeatable).", valueName: "text"))
    var queries: [String] = []

    @Option(help: "Output format: json, npy (several items make an .npz archive) or sql (psql \\set variables: query, query_2, page, ...).")
    var format: String = "json"

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file, or - for standard output.", valueName: "path"))
    var output: String = "-"

    @Option(help: "Pages per forward pass.")
    var batchSize: Int = 4

    @Flag(name: .shortAndLong, help: "Print timings to stderr.")
    var verbose = false

    func validate() throws {
        if images.isEmpty && queries.isEmpty { throw ValidationError("give at least one --image or --query") }
        if !["json", "npy", "sql"].contains(format) { throw ValidationError("--format must be json, npy or sql") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        for query in queries where query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("a --query is empty")
        }
    }

    func run() async throws {
        let promptFormat = try modelOptions.resolvedPromptFormat()
        // Decode first: a bad image fails before minutes of model loading.
        let decoded = try images.map { path in
            (path, try RGBImage.load(contentsOf: URL(fileURLWithPath: path), alpha: promptFormat.alphaHandling))
        }
        let started = Date()
        let model = try await modelOptions.loadModel()
        log(String(format: "loaded %@ (%@) in %.1f s", model.checkpoint.identifier, model.precision.rawValue,
                   Date().timeIntervalSince(started)))
        var items: [EmbeddingOutput.Item] = []
        var clock = Date()
        for batch in stride(from: 0, to: decoded.count, by: batchSize).map({ Array(decoded[$0..<min($0 + batchSize, decoded.count)]) }) {
            let vectors = try model.embedDocuments(batch.map(\.1), format: promptFormat)
            items += zip(batch, vectors).map { EmbeddingOutput.Item(kind: "images", label: $0.0, vector: $1) }
        }
        if !decoded.isEmpty {
            let seconds = Date().timeIntervalSince(clock)
            log(String(format: "embedded %d page(s) in %.2f s (%.2f s/page)", decoded.count, seconds, seconds / Double(decoded.count)))
        }
        clock = Date()
        if !queries.isEmpty {
            let vectors = try model.embedQueries(queries, format: promptFormat)
            items += zip(queries, vectors).map { EmbeddingOutput.Item(kind: "queries", label: $0, vector: $1) }
            let seconds = Date().timeIntervalSince(clock)
            log(String(format: "embedded %d quer%@ in %.3f s", queries.count, queries.count == 1 ? "y" : "ies", seconds))
        }
        let data: Data
        switch format {
        case "json": data = try EmbeddingOutput.json(items)
        case "sql": data = EmbeddingOutput.psql(items)
        default: data = EmbeddingOutput.numpy(items)
        }
        try OutputFile.write(data, to: output)
    }

    private func log(_ message: String) {
        if verbose { FileHandle.standardError.write(Data("colpali: \(message)\n".utf8)) }
    }
}
