import ColPaliKernels
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
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
        /// Every query only sees this tenant's documents: filtered, and named
        /// to row-level security (`SET LOCAL colpali.tenant`), which enforces
        /// it for database roles in colpali_tenant.
        public var tenant: String?

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
    /// The tenant every query is scoped to (and names to row-level security), if any.
    public let tenant: String?

    /// A client with its own pool; searches wait until `run()` runs it.
    public convenience init(configuration: Configuration, model: ColPali?, logger: Logger = Logger(label: "colpali.search")) {
        self.init(client: Database.makeClient(configuration.database, maximumConnections: configuration.maximumConnections,
                                              logger: logger),
                  model: model, oversampling: configuration.oversampling, tenant: configuration.tenant, logger: logger)
    }

    /// Searches through a pool the caller runs (e.g. one it shares with its
    /// own queries).
    public init(client: PostgresClient, model: ColPali?, oversampling: Int = SearchClient.defaultOversampling,
                tenant: String? = nil, logger: Logger = Logger(label: "colpali.search")) {
        self.client = client
        self.model = model
        self.tenant = tenant
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
            try await body(SearchClient(client: client, model: model, oversampling: configuration.oversampling,
                                        tenant: configuration.tenant, logger: logger))
        }
    }

    /// `with` for the default configuration of a database.
    public static func with<T: Sendable>(database: ConnectionSettings, model: ColPali?,
                                         logger: Logger = Logger(label: "colpali.search"),
                                         _ body: @Sendable (SearchClient) async throws -> T) async throws -> T {
        try await with(Configuration(database: database), model: model, logger: logger, body)
    }

    // MARK: Searching

    /// Pages of `collection` best matching `question`: `candidates` pages
    /// (default: limit x oversampling, at least 50) from the candidate index
    /// or the Hamming prefilter, then exact MaxSim.
    public func search(_ question: String, in collection: String = Collection.defaultName, limit: Int = 10,
                       candidates: Int? = nil, probes: Int? = nil, filter: SearchFilter = SearchFilter(),
                       includeImages: Bool = false) async throws -> [PageHit] {
        let embedded = try await embed(question, for: collection)
        return try await search(embedding: embedded.embedding, in: collection, limit: limit, candidates: candidates,
                                probes: probes, filter: filter, includeImages: includeImages)
    }

    /// Full-table `ORDER BY maxsim(...)`: exact, and as slow as the collection is large.
    public func exactSearch(_ question: String, in collection: String = Collection.defaultName, limit: Int = 10,
                            filter: SearchFilter = SearchFilter(), includeImages: Bool = false) async throws -> [PageHit] {
        let embedded = try await embed(question, for: collection)
        return try await exactSearch(embedding: embedded.embedding, in: collection, limit: limit, filter: filter,
                                     includeImages: includeImages)
    }

    /// For callers that embed elsewhere (colpali-engine on a GPU, say): the
    /// multi-vector must come from the collection's model.
    ///
    /// Candidates come from the pages' `colpali_ivf` index when there is a
    /// built one (`probes`: centroids each query token probes, default the
    /// server's `colpali.ivf_probes`), otherwise from the codes prefilter.
    public func search(embedding: MultiVector, in collection: String = Collection.defaultName, limit: Int = 10,
                       candidates: Int? = nil, probes: Int? = nil, filter: SearchFilter = SearchFilter(),
                       includeImages: Bool = false) async throws -> [PageHit] {
        let (target, stage) = try await lookUp(collection, probes: probes)
        let query = try compose(embedding: embedding, collection: target, limit: limit,
                                candidates: candidates ?? defaultCandidates(limit: limit, stage: stage), stage: stage,
                                filter: filter, includeImages: includeImages)
        return try await run(query, collection: target, settings: Self.settings(probes: probes))
    }

    public func exactSearch(embedding: MultiVector, in collection: String = Collection.defaultName, limit: Int = 10,
                            filter: SearchFilter = SearchFilter(), includeImages: Bool = false) async throws -> [PageHit] {
        let target = try await self.collection(collection)
        let query = try compose(embedding: embedding, collection: target, limit: limit, candidates: nil, filter: filter,
                                includeImages: includeImages)
        return try await run(query, collection: target)
    }

    /// The statement a search runs, with its parameters described.
    public func explain(embedding: MultiVector, in collection: String = Collection.defaultName, limit: Int = 10,
                        candidates: Int? = nil, probes: Int? = nil, exact: Bool = false,
                        filter: SearchFilter = SearchFilter()) async throws -> String {
        let (target, stage) = try await lookUp(collection, probes: exact ? nil : probes, exact: exact)
        let settings = Self.settings(probes: exact ? nil : probes)
        let query = try compose(embedding: embedding, collection: target, limit: limit,
                                candidates: exact ? nil : candidates ?? defaultCandidates(limit: limit, stage: stage), stage: stage,
                                filter: filter, includeImages: false)
        return settings.map { "SET LOCAL \($0.name) = \($0.value);\n" }.joined() + query.explanation
    }

    /// Probes per query token a search may ask for (colpali_ivf's limit).
    public static let maximumProbes = 65_536

    /// The collection, and the index stage when the pages have a built
    /// colpali_ivf index (one built over an empty table has no centroids and
    /// is not used; on Citus, the shards' indexes count): both on one
    /// connection, one pool checkout.
    private func lookUp(_ name: String, probes: Int?, exact: Bool = false) async throws
        -> (Collection, SearchQuery.CandidateStage) {
        guard Collection.isValidName(name) else { throw CollectionError.invalidName(name) }
        if let probes, !(1...Self.maximumProbes).contains(probes) {
            throw SearchError.outOfRange(name: "probes", value: probes, allowed: 1...Self.maximumProbes)
        }
        let (found, built) = try await session { c in
            let found = try await CollectionStore(logger: self.logger).find(name, on: c)
            if exact { return (found, false) }
            return (found, try await CandidateIndex.isSearchable(on: c, logger: self.logger))
        }
        guard let found else { throw CollectionError.notFound(name) }
        if built { return (found, .index) }
        if probes != nil { throw SearchError.noCandidateIndex }
        return (found, .codes)
    }

    /// Session settings of a search: numbers only, so they are written as literals.
    private static func settings(probes: Int?) -> [(name: String, value: Int)] {
        probes.map { [("colpali.ivf_probes", $0)] } ?? []
    }

    /// Most hits one search returns, and most candidates it reranks: each
    /// candidate is a full page read and scored exactly.
    public static let maximumLimit = 1_000
    public static let maximumCandidates = 100_000

    /// limit x oversampling, at least `minimumCandidates`, at most `maximumCandidates`;
    /// half that (still at least `minimumCandidates`) from the candidate index,
    /// whose candidates are closer to the answer than the codes prefilter's
    /// (bench/RESULTS.md: recall@10 0.995 with 50 at 100,000 pages).
    public func defaultCandidates(limit: Int, stage: SearchQuery.CandidateStage = .codes) -> Int {
        let factor = stage == .index ? max(oversampling / 2, 1) : oversampling
        let (product, overflow) = max(limit, 1).multipliedReportingOverflow(by: factor)
        return min(max(overflow ? Int.max : product, Self.minimumCandidates), Self.maximumCandidates)
    }

    /// The question's multi-vector for a collection: embedded by this
    /// client's model, which must be the collection's, in the collection's
    /// prompt format.
    public func embed(_ question: String, for collection: String = Collection.defaultName) async throws -> EmbeddedQuestion {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw SearchError.emptyQuestion }
        guard model != nil else { throw SearchError.modelRequired }
        return try embed(question, into: try await self.collection(collection))
    }

    /// `embed(_:for:)` once the collection is in hand: the model's forward
    /// pass alone, synchronous, for callers that run it on a thread of
    /// their own (a server keeps it off the threads that answer requests).
    package func embed(_ question: String, into target: Collection) throws -> EmbeddedQuestion {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw SearchError.emptyQuestion }
        guard let model else { throw SearchError.modelRequired }
        guard target.accepts(identity: model.identity, name: model.identifier) else {
            throw CollectionError.otherModel(collection: target.name, collectionModel: target.modelName, model: model.identifier)
        }
        let input = try model.processor.query(question, format: target.promptFormat)
        let vector = try model.forward([input])[0]
        let tokenizer = model.processor.tokenizer
        return EmbeddedQuestion(embedding: vector, model: model.identifier,
                                tokens: input.inputIds.map { tokenizer.token(for: $0) ?? "#\($0)" })
    }

    /// A collection by name. Looked up every time (one indexed row, against
    /// a search's scan): a client that lives long sees a collection deleted
    /// and made again as it now is, not as it first found it.
    public func collection(_ name: String) async throws -> Collection {
        guard Collection.isValidName(name) else { throw CollectionError.invalidName(name) }
        let found = try await session { c in try await CollectionStore(logger: self.logger).find(name, on: c) }
        guard let found else { throw CollectionError.notFound(name) }
        return found
    }

    /// Every collection.
    public func collections() async throws -> [Collection] {
        try await session { c in try await CollectionStore(logger: self.logger).list(on: c) }
    }

    /// Work on one pooled connection. With a tenant configured, inside a
    /// transaction that names it to row-level security (colpali.tenant).
    ///
    /// Reads are tried again, up to twice, when the connection was closed
    /// under them: a pooled connection can look alive for a moment after the
    /// server ended its session (a restart, an administrator), and the next
    /// search should not fail for that. The pool learns of the close on the
    /// connection's event loop, so a retry at once can be handed the same
    /// dead connection; the second waits 50 ms first. A query the server
    /// ended with an error (an administrator's termination) is not retried:
    /// that error is the answer. One whose backend crashed mid-query is
    /// retried like a lost connection, which is harmless for a read: after a
    /// crash the server refuses connections while it recovers, and that
    /// refusal is not retried. Writes (`writes: true`) are never retried.
    func session<T: Sendable>(writes: Bool = false, locals: [String] = [],
                              _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await once(locals: locals, body)
            } catch let error as PSQLError where !writes && attempt < 2 && Self.closedBeforeTheQuery(error) {
                attempt += 1
                logger.debug("connection was closed; trying again", metadata: ["error": "\(DatabaseErrors.describe(error))"])
                if attempt > 1 { try await Task.sleep(for: .milliseconds(50)) }
            }
        }
    }

    /// The connection closed (by either side) before the query's answer came.
    private static func closedBeforeTheQuery(_ error: PSQLError) -> Bool {
        error.code == .serverClosedConnection || error.code == .clientClosedConnection
    }

    /// `locals`: SET LOCAL statements of fixed text, run first in the transaction.
    private func once<T: Sendable>(locals: [String], _ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T {
        var statements = locals
        if let tenant {
            // SET LOCAL rather than set_config(): Citus passes SET LOCAL on to the
            // workers' shard queries, where row-level security reads it, once
            // citus.propagate_set_commands says so (a placeholder elsewhere).
            guard let literal = SQLLiteral.quote(tenant) else { throw SearchError.invalidFilter("the tenant contains a NUL character") }
            statements += ["SET LOCAL citus.propagate_set_commands = 'local'", "SET LOCAL colpali.tenant = \(literal)"]
        }
        guard !statements.isEmpty else { return try await client.withConnection { c in try await body(c) } }
        return try await client.withConnection { connection in
            try await connection.transaction(logger: self.logger) { c in
                for statement in statements {
                    _ = try await c.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                return try await body(c)
            }
        }
    }

    private func compose(embedding: MultiVector, collection: Collection, limit: Int, candidates: Int?,
                         stage: SearchQuery.CandidateStage = .codes, filter: SearchFilter,
                         includeImages: Bool) throws -> SearchQuery {
        guard (1...Self.maximumLimit).contains(limit) else {
            throw SearchError.outOfRange(name: "limit", value: limit, allowed: 1...Self.maximumLimit)
        }
        if let candidates, !(1...Self.maximumCandidates).contains(candidates) {
            throw SearchError.outOfRange(name: "candidates", value: candidates, allowed: 1...Self.maximumCandidates)
        }
        guard embedding.dim == collection.embeddingDimension else {
            throw SearchError.dimensionMismatch(model: embedding.dim, stored: collection.embeddingDimension)
        }
        guard (1...Int(COLPALI_MAX_ROWS)).contains(embedding.rows) else {
            throw SearchError.outOfRange(name: "query rows", value: embedding.rows, allowed: 1...Int(COLPALI_MAX_ROWS))
        }
        var scoped = filter
        if let tenant {
            if let asked = filter.tenant, asked != tenant {
                throw SearchError.invalidFilter("tenant '\(asked)' is outside this client's tenant '\(tenant)'")
            }
            scoped.tenant = tenant
        }
        var codes = [UInt8](repeating: 0, count: embedding.rows * colpali_code_bytes(Int32(embedding.dim)))
        colpali_binary_quantize(embedding.values, Int32(embedding.rows), Int32(embedding.dim), &codes)
        return try SearchQuery.compose(query: embedding, codes: Data(codes), collection: collection, limit: limit,
                                       candidates: candidates.map { max($0, limit) }, stage: stage, filter: scoped,
                                       includeImages: includeImages)
    }

    private func run(_ query: SearchQuery, collection: Collection, settings: [(name: String, value: Int)] = [])
        async throws -> [PageHit] {
        logger.debug("search", metadata: ["sql": "\(query.explanation)"])
        let locals = settings.map { "SET LOCAL \($0.name) = \($0.value)" }
        let rows = try await session(locals: locals) { c in try await c.query(query.postgresQuery, logger: self.logger).collect() }
        var hits: [PageHit] = []
        for row in rows {
            let (score, documentID, pageID, pageNumber, uri, title, metadata, image, imageType) =
                try row.decode((Float, Int, Int, Int, String, String?, String, Data?, String?).self)
            var stored: PageImage?
            if let image, let type = imageType.flatMap(ImageType.init(rawValue:)) { stored = PageImage(data: image, type: type) }
            hits.append(PageHit(rank: hits.count + 1, score: score, documentID: documentID, pageID: pageID, pageNumber: pageNumber,
                                sourceURI: uri, title: title, metadata: Metadata(json: metadata) ?? [:], image: stored))
        }
        if hits.isEmpty { try await explainEmptyResult(collection) }
        return hits
    }

    /// No hits: an error when the collection holds no searchable page at all
    /// (filters that match nothing are not an error).
    private func explainEmptyResult(_ collection: Collection) async throws {
        let ready = try await session { c in
            try await c.query("""
                SELECT count(*) FROM documents WHERE collection_id = \(collection.id) AND status = 'ready'
                """, logger: self.logger).collect().first!.decode(Int.self)
        }
        if ready == 0 { throw SearchError.noPages(collection: collection.name) }
    }
}
