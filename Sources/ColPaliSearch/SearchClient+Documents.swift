import ColPaliStorage
import Foundation
import PostgresNIO

extension SearchClient {
    /// Documents, newest first.
    public func documents(limit: Int = 100, offset: Int = 0) async throws -> [DocumentSummary] {
        guard (1...10_000).contains(limit) else { throw SearchError.outOfRange(name: "limit", value: limit, allowed: 1...10_000) }
        guard offset >= 0 else { throw SearchError.outOfRange(name: "offset", value: offset, allowed: 0...Int.max) }
        let rows = try await client.query("""
            SELECT id, source_uri, title, page_count, status, error, model, created_at
            FROM documents ORDER BY created_at DESC, id DESC LIMIT \(limit) OFFSET \(offset)
            """, logger: logger)
        var result: [DocumentSummary] = []
        for try await (id, uri, title, pages, status, error, model, created) in
            rows.decode((Int, String, String?, Int?, String, String?, String, Date).self) {
            result.append(DocumentSummary(id: id, sourceURI: uri, title: title, pageCount: pages, status: status, error: error,
                                          model: model, createdAt: created))
        }
        return result
    }

    /// Deletes a document and its pages; false when there was none.
    public func deleteDocument(id: Int) async throws -> Bool {
        try await client.withConnection { c in try await DocumentStore(logger: self.logger).delete(id: id, on: c) }
    }

    /// Puts a file on the ingest queue for a `colpali-ingest run` daemon.
    /// `options` is the job's JSON object (see migration 0003).
    public func enqueue(file: String, optionsJSON: String = "{}") async throws -> Int {
        let uri = SourceURI.of(path: file)
        return try await client.withConnection { c in
            try await JobQueue.enqueue(sourceURI: uri, optionsJSON: optionsJSON, on: c, logger: self.logger)
        }
    }
}
