import ColPaliKernels
import ColPaliStorage
import Foundation
import PostgresNIO

/// Which image patches of a page each query token matched: ColPali's
/// interpretability view. Patch p of the `grid x grid` map (row-major) is
/// row p of the page's multi-vector.
public struct SimilarityMap: Sendable, Equatable {
    public let pageID: Int
    public let grid: Int
    /// The query's tokens, as the tokenizer spells them.
    public let tokens: [String]
    /// Per token, the dot product with every patch: grid * grid values.
    public let scores: [[Float]]

    /// A token's map scaled to [0, 1] as colpali-engine does: (m - min) / (max - min + 1e-10).
    public func normalized(token index: Int) -> [Float] {
        Self.normalize(scores[index])
    }

    /// Per patch, the best match of any of the given tokens (default: all
    /// but special and padding tokens), normalised: where the query as a whole
    /// matched.
    public func combined(tokens selection: [Int]? = nil) -> [Float] {
        let chosen = selection ?? tokens.indices.filter { !Self.isSpecial(tokens[$0]) }
        let indices = chosen.isEmpty ? Array(tokens.indices) : chosen
        var best = [Float](repeating: -.infinity, count: grid * grid)
        for t in indices {
            for p in 0..<best.count { best[p] = max(best[p], scores[t][p]) }
        }
        return Self.normalize(best)
    }

    static func normalize(_ values: [Float]) -> [Float] {
        guard let low = values.min(), let high = values.max() else { return values }
        return values.map { ($0 - low) / (high - low + 1e-10) }
    }

    static func isSpecial(_ token: String) -> Bool {
        (token.hasPrefix("<") && token.hasSuffix(">")) || token == "\n" || token.allSatisfy { $0 == "▁" }
    }

    /// Computes the map from a page's stored multi-vector.
    public static func compute(query: MultiVector, tokens: [String], page: MultiVector, grid: Int, pageID: Int) -> SimilarityMap {
        let patches = grid * grid
        precondition(patches <= page.rows && query.dim == page.dim)
        var out = [Float](repeating: 0, count: query.rows * patches)
        query.values.withUnsafeBufferPointer { q in
            page.values.withUnsafeBufferPointer { d in
                colpali_similarity(q.baseAddress, Int32(query.rows), d.baseAddress, Int32(patches), Int32(page.dim), &out)
            }
        }
        let scores = (0..<query.rows).map { Array(out[($0 * patches)..<(($0 + 1) * patches)]) }
        return SimilarityMap(pageID: pageID, grid: grid, tokens: tokens, scores: scores)
    }
}

extension SearchClient {
    /// The similarity map of `question` over a stored page, the question
    /// embedded for the page's collection.
    public func similarityMap(question: String, pageID: Int) async throws -> SimilarityMap {
        // Only the collection's name: the page itself (with its image) is not needed.
        let names = try await session { c in
            try await c.query("""
                SELECT c.name FROM pages p JOIN documents d ON d.id = p.document_id JOIN collections c ON c.id = d.collection_id
                WHERE p.id = \(pageID)
                """, logger: self.logger).collect()
        }
        guard let collection = try names.first?.decode(String.self) else { throw SearchError.pageNotFound(pageID) }
        let embedded = try await embed(question, for: collection)
        return try await similarityMap(embedding: embedded.embedding, tokens: embedded.tokens, pageID: pageID)
    }

    /// The similarity map of a query multi-vector over a stored page.
    public func similarityMap(embedding: MultiVector, tokens: [String], pageID: Int) async throws -> SimilarityMap {
        let rows = try await session { c in
            try await c.query("SELECT pool_factor, patch_grid, embedding::real[] FROM pages WHERE id = \(pageID)", logger: self.logger).collect()
        }
        guard let row = rows.first else { throw SearchError.pageNotFound(pageID) }
        let (factor, grid, page) = try row.decode((Int, Int, MultiVector).self)
        guard factor == 1 else { throw SearchError.pooledPage(page: pageID, factor: factor) }
        guard page.dim == embedding.dim else { throw SearchError.dimensionMismatch(model: embedding.dim, stored: page.dim) }
        return SimilarityMap.compute(query: embedding, tokens: tokens, page: page, grid: grid, pageID: pageID)
    }

    /// A stored page: where it came from, its size, and its stored
    /// rendering if ingest kept one. Without `includingImage` the rendering
    /// is not read (it is most of the row), only whether there is one.
    public func page(id pageID: Int, includingImage: Bool = true) async throws -> StoredPage {
        let rows = try await session { c in
            try await c.query("\(unescaped: Self.selectPage(includingImage: includingImage)) WHERE p.id = \(pageID)",
                              logger: self.logger).collect()
        }
        guard let row = rows.first else { throw SearchError.pageNotFound(pageID) }
        return try Self.storedPage(row)
    }

    /// Page `number` (1-based) of a document.
    public func page(documentID: Int, number: Int) async throws -> StoredPage {
        let rows = try await session { c in
            try await c.query("\(unescaped: Self.selectPage(includingImage: true)) WHERE p.document_id = \(documentID) AND p.page_number = \(number)",
                              logger: self.logger).collect()
        }
        guard let row = rows.first else { throw SearchError.pageNumberNotFound(document: documentID, page: number) }
        return try Self.storedPage(row)
    }

    static func selectPage(includingImage: Bool) -> String {
        // IS NOT NULL reads the row's null bitmap, not the image.
        """
        SELECT p.id, p.document_id, p.page_number, p.width, p.height, d.source_uri, d.content_hash,
               \(includingImage ? "p.image" : "NULL::bytea"), p.image_type, p.image IS NOT NULL AND p.image_type IS NOT NULL, c.name
        FROM pages p JOIN documents d ON d.id = p.document_id JOIN collections c ON c.id = d.collection_id
        """
    }

    static func storedPage(_ row: PostgresRow) throws -> StoredPage {
        let (id, document, number, width, height, uri, hash, image, type, hasImage, collection) =
            try row.decode((Int, Int, Int, Int, Int, String, Data, Data?, String?, Bool, String).self)
        var stored: PageImage?
        if let image, let type = type.flatMap(ImageType.init(rawValue:)) { stored = PageImage(data: image, type: type) }
        return StoredPage(pageID: id, documentID: document, pageNumber: number, width: width, height: height,
                          sourceURI: uri, contentHash: hash, image: stored, hasStoredImage: hasImage, collection: collection)
    }
}
