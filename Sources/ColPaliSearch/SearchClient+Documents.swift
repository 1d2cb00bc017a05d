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
