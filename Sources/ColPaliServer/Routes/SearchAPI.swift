import ColPaliCore
import ColPaliSearch
import ColPaliStorage
import Foundation
import Hummingbird

/// `POST /v1/search`: the body, as JSON (snake_case keys).
///
/// Give a `question` (the server's model embeds it) or a `query_embedding`
/// computed elsewhere (rows of the collection's dimension), not both.
public struct SearchRequest: Codable, Sendable, Equatable {
    public var question: String?
    public var queryEmbedding: [[Float]]?
    public var limit: Int?
    public var candidates: Int?
    public var probes: Int?
    public var exact: Bool?
    public var collection: String?
    public var filter: Filter?

    public struct Filter: Codable, Sendable, Equatable {
        public var documentIds: [Int]?
        /// Documents whose metadata contains this object.
        public var metadata: Metadata?
        public var sourcePrefix: String?
        public var createdAfter: Date?
        public var createdBefore: Date?
        public var tenant: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case documentIds, metadata, sourcePrefix, createdAfter, createdBefore, tenant
        }

        public init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, known: CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            documentIds = try c.decodeIfPresent([Int].self, forKey: .documentIds)
            metadata = try c.decodeIfPresent(Metadata.self, forKey: .metadata)
            sourcePrefix = try c.decodeIfPresent(String.self, forKey: .sourcePrefix)
            createdAfter = try c.decodeIfPresent(Date.self, forKey: .createdAfter)
            createdBefore = try c.decodeIfPresent(Date.self, forKey: .createdBefore)
            tenant = try c.decodeIfPresent(String.self, forKey: .tenant)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case question, queryEmbedding, limit, candidates, probes, exact, collection, filter
    }

    public init(question: String? = nil, queryEmbedding: [[Float]]? = nil, limit: Int? = nil) {
        self.question = question
        self.queryEmbedding = queryEmbedding
        self.limit = limit
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        question = try c.decodeIfPresent(String.self, forKey: .question)
        queryEmbedding = try c.decodeIfPresent([[Float]].self, forKey: .queryEmbedding)
        limit = try c.decodeIfPresent(Int.self, forKey: .limit)
        candidates = try c.decodeIfPresent(Int.self, forKey: .candidates)
        probes = try c.decodeIfPresent(Int.self, forKey: .probes)
        exact = try c.decodeIfPresent(Bool.self, forKey: .exact)
        collection = try c.decodeIfPresent(String.self, forKey: .collection)
        filter = try c.decodeIfPresent(Filter.self, forKey: .filter)
    }

    /// The query rows as one multi-vector, checked: rectangular, finite,
    /// within the extension's row limit.
    func multiVector() throws -> MultiVector? {
        guard let rows = queryEmbedding else { return nil }
        guard let dim = rows.first?.count, dim > 0 else { throw APIError.invalid("query_embedding must have at least one non-empty row") }
        guard rows.count <= SearchAPI.maximumQueryRows else {
            throw APIError.invalid("query_embedding has \(rows.count) rows; at most \(SearchAPI.maximumQueryRows)")
        }
        var values: [Float] = []
        values.reserveCapacity(rows.count * dim)
        for (index, row) in rows.enumerated() {
            guard row.count == dim else {
                throw APIError.invalid("query_embedding row \(index) has \(row.count) values; row 0 has \(dim)")
            }
            guard row.allSatisfy(\.isFinite) else { throw APIError.invalid("query_embedding row \(index) has a value that is not finite") }
            values += row
        }
        return MultiVector(rows: rows.count, dim: dim, values: values)
    }

    func searchFilter() throws -> SearchFilter {
        guard let filter else { return SearchFilter() }
        if let prefix = filter.sourcePrefix, prefix.isEmpty { throw APIError.invalid("filter.source_prefix is empty") }
        // Bounds on what a filter may cost the database (the CLI's --metadata has the same 16 KiB).
        if let ids = filter.documentIds, ids.count > SearchAPI.maximumFilterIDs {
            throw APIError.invalid("filter.document_ids has \(ids.count) ids; at most \(SearchAPI.maximumFilterIDs)")
        }
        if let metadata = filter.metadata, metadata.jsonText.utf8.count > SearchAPI.maximumFilterMetadataBytes {
            throw APIError.invalid("filter.metadata is larger than \(SearchAPI.maximumFilterMetadataBytes) bytes of JSON")
        }
        return SearchFilter(documentIDs: filter.documentIds, metadataContains: filter.metadata, sourcePrefix: filter.sourcePrefix,
                            createdAfter: filter.createdAfter, createdBefore: filter.createdBefore, tenant: filter.tenant)
    }
}

/// The answer of `POST /v1/search`.
public struct SearchResponse: Codable, Sendable, Equatable {
    public struct Hit: Codable, Sendable, Equatable {
        public let rank: Int
        public let pageId: Int
        public let documentId: Int
        public let pageNumber: Int
        public let score: Float
        public let sourceUri: String
        public let title: String?
        public let metadata: Metadata

        enum CodingKeys: String, CodingKey {
            case rank, pageId, documentId, pageNumber, score, sourceUri, title, metadata
        }

        /// Every field present, `title` as null when there is none.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rank, forKey: .rank)
            try c.encode(pageId, forKey: .pageId)
            try c.encode(documentId, forKey: .documentId)
            try c.encode(pageNumber, forKey: .pageNumber)
            try c.encode(score, forKey: .score)
            try c.encode(sourceUri, forKey: .sourceUri)
            try c.encode(title, forKey: .title)
            try c.encode(metadata, forKey: .metadata)
        }

        init(_ hit: PageHit) {
            rank = hit.rank
            pageId = hit.pageID
            documentId = hit.documentID
            pageNumber = hit.pageNumber
            score = hit.score
            sourceUri = hit.sourceURI
            title = hit.title
            metadata = hit.metadata
        }
    }

    public let hits: [Hit]
    /// Milliseconds per stage: embed (the question through the model, when
    /// one was given), search (candidates and exact rerank: one statement),
    /// total.
    public let timingsMs: [String: Double]
}

/// Rejects keys a type does not know: a misspelt `limt` is an error, not a
/// silently ignored default.
enum StrictKeys {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func check(_ decoder: any Decoder, known: [String]) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
            let snake = known.map(snakeCase).joined(separator: ", ")
            throw APIError.invalid("unknown field '\(snakeCase(unknown.stringValue))' (known: \(snake))")
        }
    }

    /// The decoder has already turned snake_case into camelCase: turn it back for the message.
    static func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { out, ch in
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
    }
}

/// The search route: validates, embeds on the model's own thread, searches
/// through the client (every value a bound parameter), times the stages.
struct SearchAPI {
    let client: SearchClient
    let embedder: ModelRunner
    let metrics: ServerMetrics
    let defaultCollection: String

    static let maximumQueryRows = 1_024
    static let maximumFilterIDs = 10_000
    static let maximumFilterMetadataBytes = 16 * 1024

    func search(_ request: Request, context: ServerContext) async throws -> SearchResponse {
        let body = try await JSONBody.decode(SearchRequest.self, from: request)
        let collection = body.collection ?? defaultCollection
        let limit = body.limit ?? 10
        let filter = try body.searchFilter()
        if body.exact == true, body.probes != nil || body.candidates != nil {
            throw APIError.invalid("exact search has no candidate stage: leave out probes and candidates")
        }
        let started = ContinuousClock.now
        var timings: [String: Double] = [:]
        let embedding: MultiVector
        switch (body.question, try body.multiVector()) {
        case (nil, nil): throw APIError.invalid("give a question or a query_embedding")
        case (.some, .some): throw APIError.invalid("give a question or a query_embedding, not both")
        case (nil, let vector?): embedding = vector
        case (let question?, nil):
            guard client.model != nil else { throw SearchError.modelRequired }
            let target = try await client.collection(collection)
            let embedStarted = ContinuousClock.now
            embedding = try await embedder.run { try client.embed(question, into: target) }.embedding
            let elapsed = ContinuousClock.now - embedStarted
            metrics.recordSearchStage("embed", duration: elapsed)
            timings["embed"] = elapsed.milliseconds
        }
        let searchStarted = ContinuousClock.now
        let hits = body.exact == true
            ? try await client.exactSearch(embedding: embedding, in: collection, limit: limit, filter: filter)
            : try await client.search(embedding: embedding, in: collection, limit: limit, candidates: body.candidates,
                                      probes: body.probes, filter: filter)
        let searched = ContinuousClock.now - searchStarted
        metrics.recordSearchStage("search", duration: searched)
        timings["search"] = searched.milliseconds
        timings["total"] = (ContinuousClock.now - started).milliseconds
        return SearchResponse(hits: hits.map(SearchResponse.Hit.init), timingsMs: timings)
    }
}


