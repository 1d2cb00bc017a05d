import Foundation
import Logging
import PostgresNIO

/// Writes documents and their pages. A document appears to search complete
/// or not at all: the document row, every page and (for queued work) the
/// job's completion are one transaction.
public struct DocumentStore: Sendable {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func existing(contentHash: Data, on connection: PostgresConnection) async throws -> StoredDocumentState? {
        let rows = try await connection.query(
            "SELECT id, status, model FROM documents WHERE content_hash = \(contentHash)", logger: logger)
        for try await (id, status, model) in rows.decode((Int, String, String).self) {
            return StoredDocumentState(id: id, status: status, model: model)
        }
        return nil
    }

    /// Stores a ready document. Content already stored is replaced when
    /// `replace` is set (re-embedding) or when the stored attempt had failed;
    /// otherwise it is an error. Returns the new document id.
    public func store(_ document: NewDocument, pages: [NewPage], replace: Bool, job: JobClaim? = nil,
                      on connection: PostgresConnection) async throws -> Int {
        try await connection.transaction(logger: logger) { c in
            try await lockContent(document.contentHash, on: c)
            try await clearPrevious(document.contentHash, replace: replace, on: c)
            let id = try await c.query("""
                INSERT INTO documents (source_uri, content_hash, title, metadata, page_count, model, prompt_format,
                                       embedding_dim, status)
                VALUES (\(document.sourceURI), \(document.contentHash), \(document.title), \(document.metadataJSON)::jsonb,
                        \(pages.count), \(document.model), \(document.promptFormat), \(document.embeddingDim), 'ready')
                RETURNING id
                """, logger: logger).collect().first!.decode(Int.self)
            for page in pages {
                _ = try await c.query("""
                    INSERT INTO pages (document_id, page_number, width, height, image, image_type, embedding, patch_grid)
                    VALUES (\(id), \(page.pageNumber), \(page.width), \(page.height), \(page.image), \(page.imageType),
                            \(page.embedding), \(page.patchGrid))
                    """, logger: logger)
            }
            if let job { try await JobQueue.complete(job, documentID: id, on: c, logger: logger) }
            return id
        }
    }

    /// Records content that could not be ingested, with the reason, so it is
    /// listed (status 'failed') and retried only when added again.
    public func storeFailure(_ document: NewDocument, error: String, job: JobClaim? = nil,
                             on connection: PostgresConnection) async throws -> Int {
        try await connection.transaction(logger: logger) { c in
            try await lockContent(document.contentHash, on: c)
            _ = try await c.query(
                "DELETE FROM documents WHERE content_hash = \(document.contentHash) AND status = 'failed'", logger: logger)
            let id = try await c.query("""
                INSERT INTO documents (source_uri, content_hash, title, metadata, page_count, model, prompt_format,
                                       embedding_dim, status, error)
                VALUES (\(document.sourceURI), \(document.contentHash), \(document.title), \(document.metadataJSON)::jsonb,
                        NULL, \(document.model), \(document.promptFormat), \(document.embeddingDim), 'failed', \(error))
                ON CONFLICT (content_hash) DO UPDATE SET updated_at = now()
                RETURNING id
                """, logger: logger).collect().first!.decode(Int.self)
            if let job { try await JobQueue.fail(job, error: error, documentID: id, on: c, logger: logger) }
            return id
        }
    }

    /// Serialises writers of the same content until the transaction ends.
    /// Two workers storing one file at once would otherwise both find no row
    /// to lock (FOR UPDATE locks only rows that exist) and the second would
    /// fail on the unique hash instead of finding the first one's document.
    private func lockContent(_ hash: Data, on c: PostgresConnection) async throws {
        let key = hash.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
        _ = try await c.query("SELECT pg_advisory_xact_lock(\(key))", logger: logger)
    }

    /// Makes room for content about to be stored: a failed attempt goes, a
    /// ready document goes only when `replace` is set. Pages go with their
    /// document (ON DELETE CASCADE).
    private func clearPrevious(_ hash: Data, replace: Bool, on c: PostgresConnection) async throws {
        let rows = try await c.query(
            "SELECT id, status FROM documents WHERE content_hash = \(hash) FOR UPDATE", logger: logger).collect()
        guard let row = try rows.first?.decode((Int, String).self) else { return }
        let (id, status) = row
        guard status == "failed" || replace else { throw DocumentStoreError.alreadyStored(id: id) }
        _ = try await c.query("DELETE FROM documents WHERE id = \(id)", logger: logger)
    }

    /// Removes a document and its pages.
    public func delete(id: Int, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("DELETE FROM documents WHERE id = \(id) RETURNING id", logger: logger)
        return try await rows.collect().count == 1
    }
}
