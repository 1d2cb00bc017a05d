import ArgumentParser
import ColPaliCLISupport
import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation

/// `colpali search "question"`.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the pages that best answer a question (binary prefilter, then exact MaxSim).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The question.") var question: String
    @Option(help: "Number of pages to return.") var limit = 10
    @Option(help: "Pages kept by the prefilter for exact reranking (default: limit x 10, at least 50).") var candidates: Int?
    @Flag(help: "Exact MaxSim over every page (slow on large tables).") var exact = false
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "Print the SQL the search runs (with its parameters) to stderr.") var explain = false
    @Option(help: ArgumentHelp("Only documents whose metadata contains this JSON object.", valueName: "json")) var metadata: String?
    @Option(help: ArgumentHelp("Only documents from under this path (or whose source URI starts with this URI).",
                               valueName: "path")) var source: String?
    @Option(help: ArgumentHelp("Only documents stored at or after this date (2026-11-29 or an ISO 8601 time).", valueName: "date"))
    var after: String?
    @Option(help: ArgumentHelp("Only documents stored before this date.", valueName: "date")) var before: String?
    @Option(name: .customLong("document"), help: ArgumentHelp("Only this document (repeatable).", valueName: "id")) var documents: [Int] = []

    /// A date given on the command line: a day (midnight UTC) or an ISO 8601 time.
    static func parseDate(_ text: String, flag: String) throws -> Date {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return date }
        throw ValidationError("\(flag) '\(text)' is not a date like 2026-11-29 or 2026-11-29T14:00:00Z")
    }

    /// Stored sources are file:// URIs of absolute paths: a path is turned
    /// into that form (a trailing slash kept, so pdfs/ does not match pdfs2/).
    static func sourcePrefix(_ text: String) -> String {
        if text.contains("://") { return text }
        let uri = SourceURI.of(path: text)
        return text.hasSuffix("/") && !uri.hasSuffix("/") ? uri + "/" : uri
    }

    func validate() throws {
        if question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("the question is empty") }
        if let after { _ = try Self.parseDate(after, flag: "--after") }
        if let before { _ = try Self.parseDate(before, flag: "--before") }
        guard (1...SearchClient.maximumLimit).contains(limit) else {
            throw ValidationError("--limit must be between 1 and \(SearchClient.maximumLimit)")
        }
        if let candidates, !(1...SearchClient.maximumCandidates).contains(candidates) {
            throw ValidationError("--candidates must be between 1 and \(SearchClient.maximumCandidates)")
        }
    }

    func run() async throws {
        let logger = global.logger
        let database = try await global.open(.existing, command: "colpali", logger: logger)
        let model = try await modelOptions.loadModel()
        let filter = SearchFilter(documentIDs: documents.isEmpty ? nil : documents, metadataContains: metadata,
                                  sourcePrefix: source.map(Self.sourcePrefix),
                                  createdAfter: try after.map { try Self.parseDate($0, flag: "--after") },
                                  createdBefore: try before.map { try Self.parseDate($0, flag: "--before") })
        let (question, limit, candidates, exact, explain) = (self.question, self.limit, self.candidates, self.exact, self.explain)
        let hits = try await SearchClient.with(database: database, model: model, logger: logger) { client in
            let embedded = try await client.embed(question)
            let (embedding, modelID) = (embedded.embedding, embedded.model)
            if explain {
                let sql = try client.explain(embedding: embedding, model: modelID, limit: limit, candidates: candidates,
                                             exact: exact, filter: filter)
                FileHandle.standardError.write(Data((sql + "\n").utf8))
            }
            return exact
                ? try await client.exactSearch(embedding: embedding, model: modelID, limit: limit, filter: filter)
                : try await client.search(embedding: embedding, model: modelID, limit: limit, candidates: candidates, filter: filter)
        }
        if json {
            let objects: [[String: Any]] = hits.map { hit in
                ["rank": hit.rank, "score": Double(hit.score), "document_id": hit.documentID, "page_id": hit.pageID,
                 "page": hit.pageNumber, "source_uri": hit.sourceURI, "title": hit.title ?? NSNull(),
                 "metadata": (try? JSONSerialization.jsonObject(with: Data(hit.metadataJSON.utf8))) ?? [:]]
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
                         as: UTF8.self))
            return
        }
        print(Table.row(["rank", "score", "page id", "page", "document"], widths: [4, 10, 8, 5, 0]))
        for hit in hits {
            let file = URL(string: hit.sourceURI)?.lastPathComponent ?? hit.sourceURI
            let name = hit.title.map { "\($0) (\(file))" } ?? file
            print(Table.row(["\(hit.rank)", String(format: "%.4f", hit.score), "\(hit.pageID)", "\(hit.pageNumber)", name],
                            widths: [4, 10, 8, 5, 0]))
        }
    }
}
