import ColPaliKernels
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import ServiceLifecycle

/// Search from an app: embeds the question with the native model and lets
/// Postgres rank pages, candidates by binary codes then exact MaxSim.
///
/// Configured by a ``Configuration``; a `Service` (swift-service-lifecycle)
/// whose `run()` runs its connection pool, or scoped with ``with(_:model:logger:_:)``:
///
///     let configuration = SearchClient.Configuration(database: try ConnectionSettings(url: url))
///     try await SearchClient.with(configuration, model: model) { client in
///         for hit in try await client.search("quarterly revenue table") { print(hit.sourceURI, hit.pageNumber) }
///     }
public final class SearchClient: Service, Sendable {
    /// How a client connects and searches.
    public struct Configuration: Sendable {
        /// Where the pages are.
        public var database: ConnectionSettings
        /// Connections in the pool.
        public var maximumConnections = 4
        /// Candidates per result the prefilter keeps (bench/search_speed.sh:
        /// at 100,000 pages this gives recall@10 >= 0.95 against exact MaxSim).
        public var oversampling = SearchClient.defaultOversampling

        public init(database: ConnectionSettings) {
            self.database = database
        }
    }

    public static let defaultOversampling = 10
    /// A floor for small limits.
    public static let minimumCandidates = 50

    public let model: ColPali?
    public let oversampling: Int
    let client: PostgresClient
    let logger: Logger
    /// The prompt format each model's pages were embedded with, once seen.
    private let promptFormats = NIOLockedValueBox<[String: PromptFormat]>([:])

    /// A client with its own pool; searches wait until `run()` runs it.
    public convenience init(configuration: Configuration, model: ColPali?, logger: Logger = Logger(label: "colpali.search")) {
        self.init(client: Database.makeClient(configuration.database, maximumConnections: configuration.maximumConnections,
                                              logger: logger),
                  model: model, oversampling: configuration.oversampling, logger: logger)
    }

    /// Searches through a pool the caller runs (e.g. one it shares with its
    /// own queries).
    public init(client: PostgresClient, model: ColPali?, oversampling: Int = SearchClient.defaultOversampling,
                logger: Logger = Logger(label: "colpali.search")) {
        self.client = client
        self.model = model
        self.oversampling = min(max(1, oversampling), Self.maximumCandidates)
        self.logger = logger
    }

    /// Runs the connection pool until cancelled (or until a ServiceGroup
    /// shuts down); searches wait until it runs.
    public func run() async throws {
        await client.run()
    }

    /// A client for the duration of `body`: the database checked reachable
    /// first (a clear error, not a minute of pool retries), the pool run
    /// meanwhile and stopped after.
    public static func with<T: Sendable>(_ configuration: Configuration, model: ColPali?,
                                         logger: Logger = Logger(label: "colpali.search"),
                                         _ body: @Sendable (SearchClient) async throws -> T) async throws -> T {
        try await Database.withClient(configuration.database, logger: logger,
                                      maximumConnections: configuration.maximumConnections) { client in
            try await body(SearchClient(client: client, model: model, oversampling: configuration.oversampling, logger: logger))
        }
    }

    /// `with` for the default configuration of a database.
    public static func with<T: Sendable>(database: ConnectionSettings, model: ColPali?,
                                         logger: Logger = Logger(label: "colpali.search"),
                                         _ body: @Sendable (SearchClient) async throws -> T) async throws -> T {
        try await with(Configuration(database: database), model: model, logger: logger, body)
    }

    // MARK: Searching

    /// Pages best matching `question`: `candidates` pages (default: limit x
    /// oversampling, at least 50) by the Hamming prefilter, then exact MaxSim.
    public func search(_ question: String, limit: Int = 10, candidates: Int? = nil, filter: SearchFilter = SearchFilter(),
                       includeImages: Bool = false) async throws -> [PageHit] {
        let question = try await embed(question)
        return try await search(embedding: question.embedding, model: question.model, limit: limit, candidates: candidates,
                                filter: filter, includeImages: includeImages)
    }

    /// Full-table `ORDER BY maxsim(...)`: exact, and as slow as the table is large.
    public func exactSearch(_ question: String, limit: Int = 10, filter: SearchFilter = SearchFilter(),
                            includeImages: Bool = false) async throws -> [PageHit] {
        let question = try await embed(question)
        return try await exactSearch(embedding: question.embedding, model: question.model, limit: limit, filter: filter,
                                     includeImages: includeImages)
    }

    /// For callers that embed elsewhere: `model` must be the stored pages' model id.
    public func search(embedding: MultiVector, model: String, limit: Int = 10, candidates: Int? = nil,
                       filter: SearchFilter = SearchFilter(), includeImages: Bool = false) async throws -> [PageHit] {
        let query = try compose(embedding: embedding, model: model, limit: limit,
                                candidates: candidates ?? defaultCandidates(limit: limit), filter: filter, includeImages: includeImages)
        return try await run(query, embedding: embedding, model: model)
    }

    public func exactSearch(embedding: MultiVector, model: String, limit: Int = 10, filter: SearchFilter = SearchFilter(),
                            includeImages: Bool = false) async throws -> [PageHit] {
        let query = try compose(embedding: embedding, model: model, limit: limit, candidates: nil, filter: filter,
                                includeImages: includeImages)
        return try await run(query, embedding: embedding, model: model)
    }

    /// The statement a search runs, with its parameters described.
    public func explain(embedding: MultiVector, model: String, limit: Int = 10, candidates: Int? = nil, exact: Bool = false,
                        filter: SearchFilter = SearchFilter()) throws -> String {
        try compose(embedding: embedding, model: model, limit: limit,
                    candidates: exact ? nil : candidates ?? defaultCandidates(limit: limit), filter: filter,
                    includeImages: false).explanation
    }

    /// Most hits one search returns, and most candidates it reranks: each
    /// candidate is a full page read and scored exactly.
    public static let maximumLimit = 1_000
    public static let maximumCandidates = 100_000

    /// limit x oversampling, at least `minimumCandidates`, at most `maximumCandidates`.
    public func defaultCandidates(limit: Int) -> Int {
        let (product, overflow) = max(limit, 1).multipliedReportingOverflow(by: oversampling)
        return min(max(overflow ? Int.max : product, Self.minimumCandidates), Self.maximumCandidates)
    }

    /// The question's multi-vector, in the prompt format the stored pages of
    /// this model were embedded with (recorded per document).
    public func embed(_ question: String) async throws -> EmbeddedQuestion {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw SearchError.emptyQuestion }
        guard let model else { throw SearchError.modelRequired }
        let modelID = model.identifier
        let format = try await promptFormat(model: modelID)
        let input = try model.processor.query(question, format: format)
        let vector = try model.forward([input])[0]
        let tokenizer = model.processor.tokenizer
        return EmbeddedQuestion(embedding: vector, model: modelID, tokens: input.inputIds.map { tokenizer.token(for: $0) ?? "#\($0)" })
    }

    /// The stored pages' prompt format for this model (transformers' when
    /// none are stored yet; remembered once pages exist).
    private func promptFormat(model modelID: String) async throws -> PromptFormat {
        if let known = promptFormats.withLockedValue({ $0[modelID] }) { return known }
        let stored = try await client.query(
            "SELECT prompt_format FROM documents WHERE model = \(modelID) AND status = 'ready' LIMIT 1", logger: logger
        ).collect().first?.decode(String.self)
        guard let format = stored.flatMap(PromptFormat.init(rawValue:)) else { return .transformers }
        promptFormats.withLockedValue { $0[modelID] = format }
        return format
    }

    private func compose(embedding: MultiVector, model: String, limit: Int, candidates: Int?, filter: SearchFilter,
                         includeImages: Bool) throws -> SearchQuery {
        guard (1...Self.maximumLimit).contains(limit) else {
            throw SearchError.outOfRange(name: "limit", value: limit, allowed: 1...Self.maximumLimit)
        }
        if let candidates, !(1...Self.maximumCandidates).contains(candidates) {
            throw SearchError.outOfRange(name: "candidates", value: candidates, allowed: 1...Self.maximumCandidates)
        }
        var codes = [UInt8](repeating: 0, count: embedding.rows * colpali_code_bytes(Int32(embedding.dim)))
        colpali_binary_quantize(embedding.values, Int32(embedding.rows), Int32(embedding.dim), &codes)
        return try SearchQuery.compose(query: embedding, codes: Data(codes), model: model, limit: limit,
                                       candidates: candidates.map { max($0, limit) }, filter: filter, includeImages: includeImages)
    }

    private func run(_ query: SearchQuery, embedding: MultiVector, model: String) async throws -> [PageHit] {
        logger.debug("search", metadata: ["sql": "\(query.explanation)"])
        var hits: [PageHit] = []
        let rows = try await client.query(query.postgresQuery, logger: logger)
        for try await row in rows {
            let (score, documentID, pageID, pageNumber, uri, title, metadata, image, imageType) =
                try row.decode((Float, Int, Int, Int, String, String?, String, Data?, String?).self)
            hits.append(PageHit(rank: hits.count + 1, score: score, documentID: documentID, pageID: pageID, pageNumber: pageNumber,
                                sourceURI: uri, title: title, metadataJSON: metadata, image: image, imageType: imageType))
        }
        if hits.isEmpty { try await explainEmptyResult(model: model, dim: embedding.dim) }
        return hits
    }

    /// No hits: an error when it is because nothing comparable is stored.
    private func explainEmptyResult(model: String, dim: Int) async throws {
        let rows = try await client.query("""
            SELECT model, embedding_dim, count(*) FROM documents WHERE status = 'ready' GROUP BY 1, 2 ORDER BY 3 DESC
            """, logger: logger).collect()
        let stored = try rows.map { try $0.decode((String, Int, Int).self) }
        if stored.isEmpty { throw SearchError.noPages }
        guard let same = stored.first(where: { $0.0 == model }) else {
            throw SearchError.otherModels(model: model, stored: stored.map(\.0))
        }
        if same.1 != dim { throw SearchError.dimensionMismatch(model: dim, stored: same.1) }
        // Otherwise the filters simply matched nothing.
    }
}
