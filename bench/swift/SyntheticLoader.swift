import ColPaliStorage
import Crypto
import Foundation
import Logging
import PostgresNIO

/// Fills the application schema with a synthetic corpus: documents of 10
/// pages each, written with binary array parameters over two connections.
struct SyntheticLoader {
    let corpus: SyntheticCorpus
    let settings: ConnectionSettings
    let logger: Logger
    static let pagesPerDocument = 10
    /// The collection the corpus goes to; its "model" is the generator.
    static let collection = "synthetic"
    static let model = CollectionModel(identity: "name:synthetic/colpali-shaped", name: "synthetic/colpali-shaped",
                                       embeddingDimension: 128, promptFormat: .transformers)

    /// Loads `pages` pages unless exactly that many are there already.
    func load(pages: Int) async throws {
        let existing = try await Database.withConnection(settings, logger: logger) { c in
            try await c.query("SELECT count(*) FROM pages", logger: logger).collect().first?.decode(Int.self) ?? 0
        }
        if existing == pages {
            FileHandle.standardError.write(Data("corpus of \(pages) pages already loaded\n".utf8))
            return
        }
        let collection = try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("TRUNCATE documents CASCADE", logger: logger)
            return try await CollectionStore(logger: logger).resolve(Self.collection, for: Self.model, create: true, on: c)
        }
        let started = Date()
        let documents = (pages + Self.pagesPerDocument - 1) / Self.pagesPerDocument
        let workers = 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    try await Database.withConnection(settings, logger: logger) { c in
                        for document in stride(from: worker, to: documents, by: workers) {
                            try await insert(document: document, totalPages: pages, collection: collection.id, on: c)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("VACUUM ANALYZE pages", logger: logger)
            _ = try await c.query("VACUUM ANALYZE documents", logger: logger)
        }
        let seconds = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(String(format: "loaded %d pages in %.0f s (%.0f pages/s)\n",
                                                   pages, seconds, Double(pages) / seconds).utf8))
    }

    private func insert(document: Int, totalPages: Int, collection: Int, on c: PostgresConnection) async throws {
        let first = document * Self.pagesPerDocument
        let count = min(Self.pagesPerDocument, totalPages - first)
        let hash = Data(SHA256.hash(data: Data("synthetic-\(corpus.seed)-\(document)".utf8)))
        let uri = "synthetic://corpus/\(corpus.seed)/document-\(document).pdf"
        let metadata = "{\"synthetic\": true, \"group\": \(document % 10)}"
        try await c.withTransaction(logger: logger) { c in
            let id = try await c.query("""
                INSERT INTO documents (collection_id, source_uri, content_hash, title, metadata, page_count, source_page_count,
                                       status)
                VALUES (\(collection), \(uri), \(hash), \("Synthetic document \(document)"), \(metadata)::jsonb, \(count), \(count),
                        'ready')
                RETURNING id
                """, logger: logger).collect().first!.decode(Int.self)
            // 32 x 32 patches at 1,030 rows; pages with fewer rows claim the grid they can hold.
            let patchGrid = min(32, Int(Double(corpus.rowsPerPage).squareRoot()))
            for offset in 0..<count {
                let embedding = MultiVector(rows: corpus.rowsPerPage, dim: corpus.dim, values: corpus.page(first + offset))
                _ = try await c.query("""
                    INSERT INTO pages (document_id, page_number, width, height, embedding, patch_grid)
                    VALUES (\(id), \(offset + 1), 448, 448, \(embedding), \(patchGrid))
                    """, logger: logger)
            }
        }
    }
}
