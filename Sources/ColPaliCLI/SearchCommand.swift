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
        abstract: "Find the pages that best answer a question (candidate index or codes prefilter, then exact MaxSim).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var scope: CollectionOptions

    @Argument(help: "The question (or give --query-embeddings).") var question: String?
    @Option(help: ArgumentHelp("Search with query multi-vectors computed elsewhere instead of a question: a .npy of float32 rows x dim, or Q x rows x dim for Q searches. No model is loaded.",
                               valueName: "file.npy"))
    var queryEmbeddings: String?
    @Option(help: "Number of pages to return.") var limit = 10
    @Option(help: "Pages kept by the first stage for exact reranking (default: limit x 10 from the codes prefilter, limit x 5 from the candidate index; at least 50).") var candidates: Int?
    @Option(help: "Centroids each query token probes in the candidate index (default: the server's colpali.ivf_probes, 8).")
    var probes: Int?
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
        switch (question, queryEmbeddings) {
        case (nil, nil): throw ValidationError("give a question, or --query-embeddings FILE.npy")
        case (.some, .some): throw ValidationError("give a question or --query-embeddings, not both")
        case (let question?, nil):
            if question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("the question is empty") }
        case (nil, .some): break
        }
        if let probes, !(1...SearchClient.maximumProbes).contains(probes) {
            throw ValidationError("--probes must be between 1 and \(SearchClient.maximumProbes)")
        }
        if probes != nil && exact { throw ValidationError("--probes applies to the candidate index, and --exact has no candidates") }
        if let metadata, Metadata(json: metadata) == nil { throw ValidationError("--metadata must be a JSON object") }
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
        if let queryEmbeddings {
            try await searchEmbeddings(from: queryEmbeddings, database: database)
            return
        }
        let question = self.question ?? ""
        let model = try await modelOptions.loadModel()
        let filter = try self.filter()
        let (limit, candidates, probes, exact, explain, collection) =
            (self.limit, self.candidates, self.probes, self.exact, self.explain, scope.collection)
        let hits = try await SearchClient.with(database: database, model: model, logger: logger) { client in
            let embedding = try await client.embed(question, for: collection).embedding
            if explain {
                let sql = try await client.explain(embedding: embedding, in: collection, limit: limit, candidates: candidates,
                                                   probes: probes, exact: exact, filter: filter)
                FileHandle.standardError.write(Data((sql + "\n").utf8))
            }
            if exact { return try await client.exactSearch(embedding: embedding, in: collection, limit: limit, filter: filter) }
            return try await client.search(embedding: embedding, in: collection, limit: limit, candidates: candidates, probes: probes,
                                           filter: filter)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(hits.map(JSONHit.init)), as: UTF8.self))
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

extension SearchCommand {
    func filter() throws -> SearchFilter {
        SearchFilter(documentIDs: documents.isEmpty ? nil : documents, metadataContains: metadata.flatMap { Metadata(json: $0) },
                     sourcePrefix: source.map(Self.sourcePrefix),
                     createdAfter: try after.map { try Self.parseDate($0, flag: "--after") },
                     createdBefore: try before.map { try Self.parseDate($0, flag: "--before") },
                     tenant: scope.resolvedTenant)
    }

    /// One search per query multi-vector of the file, no model: a table per
    /// query, or with --json one JSON object per line with its timings.
    func searchEmbeddings(from path: String, database: ConnectionSettings) async throws {
        // The largest array NumpyArray takes, as float64, plus a header: refused before a byte is read.
        let sizeLimit = UInt64(NumpyArray.maximumValues) * 8 + 65_536
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64, size > sizeLimit {
            throw ValidationError("--query-embeddings \(path) is \(size) bytes, more than an array of \(NumpyArray.maximumValues) values")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw ValidationError("cannot read --query-embeddings \(path): \(error.localizedDescription)")
        }
        let queries: [MultiVector]
        do {
            queries = try NumpyArray.parse(data).multiVectors()
        } catch let error as NumpyArray.ParseError {
            throw ValidationError("--query-embeddings \(path): \(error)")
        }
        let filter = try self.filter()
        let (limit, candidates, probes, exact, json, collection) =
            (self.limit, self.candidates, self.probes, self.exact, self.json, scope.collection)
        try await SearchClient.with(database: database, model: nil, logger: global.logger) { client in
            for (index, query) in queries.enumerated() {
                let started = ContinuousClock.now
                let hits = exact
                    ? try await client.exactSearch(embedding: query, in: collection, limit: limit, filter: filter)
                    : try await client.search(embedding: query, in: collection, limit: limit, candidates: candidates,
                                              probes: probes, filter: filter)
                let elapsed = ContinuousClock.now - started
                let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                if json {
                    let line = QueryResultLine(query: index, hits: hits.map(QueryResultLine.Hit.init),
                                               timingsMs: ["total": (milliseconds * 1000).rounded() / 1000])
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    encoder.keyEncodingStrategy = .convertToSnakeCase
                    print(String(decoding: try encoder.encode(line), as: UTF8.self))
                } else {
                    print("query \(index) (\(String(format: "%.1f", milliseconds)) ms)")
                    for hit in hits {
                        print(Table.row(["\(hit.rank)", String(format: "%.4f", hit.score), "\(hit.pageID)", "\(hit.pageNumber)",
                                         hit.sourceURI], widths: [4, 10, 8, 5, 0]))
                    }
                }
            }
        }
    }
}

/// One line of `colpali search --query-embeddings FILE --json`.
struct QueryResultLine: Encodable {
    struct Hit: Encodable {
        let pageId: Int
        let documentId: Int
        let pageNumber: Int
        let sourceUri: String
        let score: Double
        init(_ hit: PageHit) {
            pageId = hit.pageID
            documentId = hit.documentID
            pageNumber = hit.pageNumber
            sourceUri = hit.sourceURI
            score = Double(hit.score)
        }
    }
    let query: Int
    let hits: [Hit]
    /// The search is one statement (candidates and exact rerank together,
    /// the exact scores computed in the candidate scan), so it is one stage.
    let timingsMs: [String: Double]
}

/// A hit as `colpali search --json` prints it.
struct JSONHit: Encodable {
    let rank: Int
    let score: Double
    let document_id: Int
    let page_id: Int
    let page: Int
    let source_uri: String
    let title: String?
    let metadata: Metadata

    init(_ hit: PageHit) {
        rank = hit.rank
        score = Double(hit.score)
        document_id = hit.documentID
        page_id = hit.pageID
        page = hit.pageNumber
        source_uri = hit.sourceURI
        title = hit.title
        metadata = hit.metadata
    }

    func encode(to encoder: any Encoder) throws {
        enum Keys: String, CodingKey { case rank, score, document_id, page_id, page, source_uri, title, metadata }
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(rank, forKey: .rank)
        try c.encode(score, forKey: .score)
        try c.encode(document_id, forKey: .document_id)
        try c.encode(page_id, forKey: .page_id)
        try c.encode(page, forKey: .page)
        try c.encode(source_uri, forKey: .source_uri)
        try c.encode(title, forKey: .title)  // null when there is none
        try c.encode(metadata, forKey: .metadata)
    }
}
