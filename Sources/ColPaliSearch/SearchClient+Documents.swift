import ColPaliStorage
import Foundation
import PostgresNIO

extension SearchClient {
    /// Documents, newest first: of one collection, or of all.
    public func documents(in collection: String? = nil, limit: Int = 100, offset: Int = 0) async throws -> [DocumentSummary] {
        guard (1...10_000).contains(limit) else { throw SearchError.outOfRange(name: "limit", value: limit, allowed: 1...10_000) }
        guard offset >= 0 else { throw SearchError.outOfRange(name: "offset", value: offset, allowed: 0...Int.max) }
        var collectionID: Int?
        if let collection { collectionID = try await self.collection(collection).id }
        let (tenant, scope) = (self.tenant, collectionID)
        let rows = try await session { c in
            try await c.query("""
                \(unescaped: Self.selectDocument)
                WHERE (\(scope)::bigint IS NULL OR d.collection_id = \(scope))
                  AND (\(tenant)::text IS NULL OR d.tenant = \(tenant))
                ORDER BY d.created_at DESC, d.id DESC LIMIT \(limit) OFFSET \(offset)
                """, logger: self.logger).collect()
        }
        return try rows.map(Self.documentSummary)
    }

    /// One document by id (of this client's tenant, when it has one).
    public func document(id: Int) async throws -> DocumentSummary {
        let tenant = self.tenant
        let rows = try await session { c in
            try await c.query("""
                \(unescaped: Self.selectDocument)
                WHERE d.id = \(id) AND (\(tenant)::text IS NULL OR d.tenant = \(tenant))
                """, logger: self.logger).collect()
        }
        guard let row = rows.first else { throw SearchError.documentNotFound(id) }
        return try Self.documentSummary(row)
    }

    static let selectDocument = """
        SELECT d.id, c.name, d.tenant, d.source_uri, d.title, d.page_count, d.source_page_count, d.status, d.error, d.created_at
        FROM documents d JOIN collections c ON c.id = d.collection_id
        """

    static func documentSummary(_ row: PostgresRow) throws -> DocumentSummary {
        let (id, name, tenant, uri, title, pages, sourcePages, status, error, created) =
            try row.decode((Int, String, String, String, String?, Int?, Int?, String, String?, Date).self)
        return DocumentSummary(id: id, collection: name, tenant: tenant, sourceURI: uri, title: title, pageCount: pages,
                               sourcePageCount: sourcePages, status: DocumentStatus(rawValue: status) ?? .failed, error: error,
                               createdAt: created)
    }

    /// Deletes a document and its pages; false when there was none.
    public func deleteDocument(id: Int) async throws -> Bool {
        try await session(writes: true) { c in try await DocumentStore(logger: self.logger).delete(id: id, on: c) }
    }

    /// Puts a file on the ingest queue for a `colpali-ingest run` daemon (which
    /// reads it only under its allowed directories).
    public func enqueue(file: String, options: JobOptions = JobOptions()) async throws -> Int {
        let uri = SourceURI.of(path: file)
        let json = try options.jsonText()
        return try await client.withConnection { c in
            try await JobQueue.enqueue(sourceURI: uri, optionsJSON: json, on: c, logger: self.logger)
        }
    }
}

/// A job of the ingest queue, as a client sees it.
public struct IngestJobStatus: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable { case queued, running, done, failed }
    public let id: Int
    public let state: State
    public let attempts: Int
    /// The document it made, once done.
    public let documentID: Int?
    public let error: String?
    public let enqueuedAt: Date
    public let finishedAt: Date?
}

extension SearchClient {
    /// One job of the ingest queue.
    public func job(id: Int) async throws -> IngestJobStatus {
        let rows = try await client.withConnection { c in
            try await c.query("""
                SELECT id, status, attempts, document_id, error, enqueued_at, finished_at FROM ingest_jobs WHERE id = \(id)
                """, logger: self.logger).collect()
        }
        guard let row = rows.first else { throw SearchError.jobNotFound(id) }
        let (id, status, attempts, document, error, enqueued, finished) =
            try row.decode((Int, String, Int, Int?, String?, Date, Date?).self)
        return IngestJobStatus(id: id, state: IngestJobStatus.State(rawValue: status) ?? .failed, attempts: attempts,
                               documentID: document, error: error, enqueuedAt: enqueued, finishedAt: finished)
    }

    /// Jobs in the ingest queue by state (every state present, 0 when none).
    public func queueCounts() async throws -> [IngestJobStatus.State: Int] {
        let rows = try await client.withConnection { c in
            try await c.query("SELECT status, count(*)::bigint FROM ingest_jobs GROUP BY status", logger: self.logger).collect()
        }
        var counts = Dictionary(uniqueKeysWithValues: IngestJobStatus.State.allCases.map { ($0, 0) })
        for row in rows {
            let (status, count) = try row.decode((String, Int).self)
            if let state = IngestJobStatus.State(rawValue: status) { counts[state] = count }
        }
        return counts
    }
}
