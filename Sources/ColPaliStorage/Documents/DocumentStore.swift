import ColPaliCore
import Foundation
import Logging
import PostgresNIO

/// Writes documents and their pages. A document appears to search complete
/// or not at all: the document row, every page, and whatever the caller adds
/// (`within`: a queued job's completion) are one transaction. Writers of the
/// same key are serialised, so the same file stored twice at once is one
/// document.
public struct DocumentStore: Sendable {
    /// Work the caller adds to a store's transaction (marking its job done
    /// or failed), given the document id.
    public typealias Within = @Sendable (Int, PostgresConnection) async throws -> Void

    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func existing(_ key: DocumentKey, on connection: PostgresConnection) async throws -> StoredDocument? {
        let rows = try await connection.query("""
            SELECT d.id, d.status, d.title, d.metadata::text, d.source_page_count,
                   coalesce((SELECT array_agg(p.page_number ORDER BY p.page_number) FROM pages p WHERE p.document_id = d.id), '{}')
            FROM documents d
            WHERE d.collection_id = \(key.collectionID) AND d.tenant = \(key.tenant) AND d.content_hash = \(key.contentHash)
            """, logger: logger).collect()
        guard let row = rows.first else { return nil }
        let (id, status, title, metadata, sourcePages, pages) = try row.decode((Int, String, String?, String, Int?, [Int]).self)
        return StoredDocument(id: id, status: DocumentStatus(rawValue: status) ?? .failed, title: title,
                              metadata: Metadata(json: metadata) ?? [:], storedPages: pages, sourcePageCount: sourcePages)
    }

    /// Stores pages of a document: a new ready document, or pages added to
    /// the one already stored under the key (`replace`: pages stored before
    /// are embedded again; otherwise they are kept). A failed attempt under
    /// the key is replaced. Title and metadata are the new ones.
    public func store(_ document: NewDocument, pages: [NewPage], replace: Bool, within: Within? = nil,
                      on connection: PostgresConnection) async throws -> StoreResult {
        try await connection.transaction(logger: logger) { c in
            try await lock(document.key, on: c)
            var id: Int
            var stored: Set<Int> = []
            var created = false
            if let current = try await existing(document.key, on: c), current.status == .ready {
                id = current.id
                stored = Set(current.storedPages)
                _ = try await c.query("""
                    UPDATE documents SET title = \(document.title), metadata = \(document.metadata.jsonText)::jsonb,
                           source_uri = \(document.sourceURI), source_page_count = \(document.sourcePageCount), updated_at = now()
                    WHERE id = \(id)
                    """, logger: logger)
            } else {
                try await deleteFailed(document.key, on: c)
                created = true
                id = try await c.query("""
                    INSERT INTO documents (collection_id, tenant, source_uri, content_hash, title, metadata, page_count,
                                           source_page_count, status)
                    VALUES (\(document.key.collectionID), \(document.key.tenant), \(document.sourceURI), \(document.key.contentHash),
                            \(document.title), \(document.metadata.jsonText)::jsonb, 0, \(document.sourcePageCount), 'ready')
                    RETURNING id
                    """, logger: logger).collect().first!.decode(Int.self)
            }
            var added: [Int] = [], replaced: [Int] = []
            for page in pages {
                if stored.contains(page.pageNumber) {
                    guard replace else { continue }
                    _ = try await c.query("DELETE FROM pages WHERE document_id = \(id) AND page_number = \(page.pageNumber)",
                                          logger: logger)
                    replaced.append(page.pageNumber)
                } else {
                    added.append(page.pageNumber)
                }
                _ = try await c.query("""
                    INSERT INTO pages (document_id, tenant, page_number, width, height, image, image_type, embedding, patch_grid, pool_factor)
                    VALUES (\(id), \(document.key.tenant), \(page.pageNumber), \(page.width), \(page.height), \(page.image?.data),
                            \(page.image?.type.rawValue), \(page.embedding), \(page.patchGrid), \(page.poolFactor))
                    """, logger: logger)
            }
            _ = try await c.query(
                "UPDATE documents SET page_count = (SELECT count(*) FROM pages WHERE document_id = \(id)) WHERE id = \(id)",
                logger: logger)
            try await within?(id, c)
            return StoreResult(documentID: id, created: created, added: added, replaced: replaced)
        }
    }

    /// Records content that could not be ingested, with the reason, so it is
    /// listed (status 'failed') and retried when added again. A document
    /// already stored ready under the key is left as it is.
    public func storeFailure(_ document: NewDocument, error: String, within: Within? = nil,
                             on connection: PostgresConnection) async throws -> Int {
        try await connection.transaction(logger: logger) { c in
            try await lock(document.key, on: c)
            if let current = try await existing(document.key, on: c), current.status == .ready {
                try await within?(current.id, c)
                return current.id
            }
            try await deleteFailed(document.key, on: c)
            let id = try await c.query("""
                INSERT INTO documents (collection_id, tenant, source_uri, content_hash, title, metadata, page_count, status, error)
                VALUES (\(document.key.collectionID), \(document.key.tenant), \(document.sourceURI), \(document.key.contentHash),
                        \(document.title), \(document.metadata.jsonText)::jsonb, NULL, 'failed', \(error))
                RETURNING id
                """, logger: logger).collect().first!.decode(Int.self)
            try await within?(id, c)
            return id
        }
    }

    /// New title and metadata for a stored document (nothing re-embedded).
    public func update(documentID: Int, title: String?, metadata: Metadata, on connection: PostgresConnection) async throws {
        _ = try await connection.query("""
            UPDATE documents SET title = \(title), metadata = \(metadata.jsonText)::jsonb, updated_at = now() WHERE id = \(documentID)
            """, logger: logger)
    }

    /// Serialises writers of the same key until the transaction ends: two
    /// workers storing one file at once would otherwise both find no row to
    /// lock (FOR UPDATE locks only rows that exist). The key's hash picks the
    /// lock; a collision only serialises two unrelated writers.
    private func lock(_ key: DocumentKey, on c: PostgresConnection) async throws {
        var bytes = key.contentHash.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        bytes ^= UInt64(truncatingIfNeeded: key.collectionID) &* 0x9E37_79B9_7F4A_7C15
        for byte in key.tenant.utf8 { bytes = (bytes ^ UInt64(byte)) &* 0x100_0000_01B3 }
        _ = try await c.query("SELECT pg_advisory_xact_lock(\(Int64(bitPattern: bytes)))", logger: logger)
    }

    private func deleteFailed(_ key: DocumentKey, on c: PostgresConnection) async throws {
        _ = try await c.query("""
            DELETE FROM documents
            WHERE collection_id = \(key.collectionID) AND tenant = \(key.tenant) AND content_hash = \(key.contentHash)
              AND status = 'failed'
            """, logger: logger)
    }

    /// Removes a document and its pages.
    public func delete(id: Int, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("DELETE FROM documents WHERE id = \(id) RETURNING id", logger: logger)
        return try await rows.collect().count == 1
    }
}
