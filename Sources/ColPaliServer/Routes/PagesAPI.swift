import ColPaliCore
import ColPaliIngest
import ColPaliModel
import ColPaliSearch
import Foundation
import Hummingbird
import NIOCore

/// Pages: what a page is, its image, and the similarity map of a question
/// over it.
struct PagesAPI {
    let client: SearchClient
    let embedder: ModelRunner

    struct PageInfo: Encodable {
        let pageId: Int
        let documentId: Int
        let pageNumber: Int
        let width: Int
        let height: Int
        let sourceUri: String
        let collection: String
        let hasStoredImage: Bool
    }

    func get(_ request: Request, context: ServerContext) async throws -> Response {
        let page = try await client.page(id: try context.identifier("id"), includingImage: false)
        return try JSONBody.response(PageInfo(pageId: page.pageID, documentId: page.documentID, pageNumber: page.pageNumber,
                                              width: page.width, height: page.height, sourceUri: page.sourceURI,
                                              collection: page.collection, hasStoredImage: page.hasStoredImage))
    }

    /// The stored image as it was kept (JPEG or PNG); without one, the page
    /// rendered from its unchanged source, as PNG.
    func image(_ request: Request, context: ServerContext) async throws -> Response {
        let page = try await client.page(id: try context.identifier("id"))
        if let stored = page.image {
            return Self.imageResponse(stored.data, type: stored.type.rawValue)
        }
        let png = try await embedder.run { try Self.background(page).pngData() }
        return Self.imageResponse(png, type: "image/png")
    }

    /// `GET /v1/pages/{id}/map?question=...[&token=N]`: the question's
    /// similarity map over the page as PNG, for the whole question or one
    /// of its tokens (numbered as `GET /v1/pages/{id}/map.json` lists them).
    /// Under the map, unless `legend=false`: the colour ramp and the
    /// question's tokens, the drawn one marked.
    func map(_ request: Request, context: ServerContext) async throws -> Response {
        let (map, page, format, query) = try await similarity(request, context: context, extra: ["token", "legend"])
        let token = try query.values["token"].map { text -> Int in
            guard let index = Int(text), map.tokens.indices.contains(index) else {
                throw APIError.invalid("token must be an index from 0 to \(map.tokens.count - 1)")
            }
            return index
        }
        let legend: Bool
        switch query.values["legend"] {
        case nil, "true": legend = true
        case "false": legend = false
        default: throw APIError.invalid("legend must be true or false")
        }
        let shown = QuestionTokens.shown(map.tokens, format: format)
        let png = try await embedder.run {
            let values = token.map { map.normalized(token: $0) } ?? map.combined()
            var image = HeatmapOverlay.draw(values, grid: map.grid, over: try Self.background(page))
            if legend {
                image = MapLegend.draw(under: image, tokens: shown.map { QuestionTokens.display(map.tokens[$0]) },
                                       selected: token.flatMap { shown.firstIndex(of: $0) }, color: HeatmapOverlay.color)
            }
            return try image.pngData()
        }
        return Self.imageResponse(png, type: "image/png")
    }

    struct MapInfo: Encodable {
        struct Token: Encodable {
            let index: Int
            let text: String
            /// The best patch similarity of this token on the page.
            let best: Float
        }
        let pageId: Int
        let grid: Int
        let tokens: [Token]
    }

    /// `GET /v1/pages/{id}/map.json?question=...`: the question's tokens
    /// (without the prompt and padding) and how well each matched the page.
    func mapInfo(_ request: Request, context: ServerContext) async throws -> Response {
        let (map, _, format, _) = try await similarity(request, context: context, extra: [])
        let tokens = QuestionTokens.shown(map.tokens, format: format).map { index in
            MapInfo.Token(index: index, text: QuestionTokens.display(map.tokens[index]), best: map.scores[index].max() ?? 0)
        }
        return try JSONBody.response(MapInfo(pageId: map.pageID, grid: map.grid, tokens: tokens))
    }

    private func similarity(_ request: Request, context: ServerContext, extra: Set<String>) async throws
        -> (SimilarityMap, StoredPage, PromptFormat, QueryParameters) {
        let query = QueryParameters(request)
        try query.allowOnly(Set(["question"]).union(extra))
        guard let question = query.string("question"), !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("question is required")
        }
        guard client.model != nil else { throw SearchError.modelRequired }
        let page = try await client.page(id: try context.identifier("id"))
        let target = try await client.collection(page.collection)
        let embedded = try await embedder.run { try client.embed(question, into: target) }
        let map = try await client.similarityMap(embedding: embedded.embedding, tokens: embedded.tokens, pageID: page.pageID)
        return (map, page, target.promptFormat, query)
    }

    static func background(_ page: StoredPage) throws -> RGBImage {
        do {
            return try PageBackground.image(of: page).image
        } catch let failure as PageBackground.Failure {
            // The server's paths stay in its log.
            throw APIError(.notFound, code: "no_image", "page \(page.pageID) has no stored image and its source is not available: \(failure.kind)")
        } catch let error where error is PDFError || error is ImageDecodingError {
            throw APIError(.notFound, code: "no_image", "page \(page.pageID) cannot be drawn: its image or source does not decode (\(error))")
        }
    }

    static func imageResponse(_ data: Data, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "private, max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension PageBackground.Failure {
    /// The reason without the path.
    var kind: String {
        switch self {
        case .sourceUnreadable: return "the source file cannot be read"
        case .sourceChanged: return "the source file changed since ingest"
        }
    }
}

/// Which of a question's tokens a person should see: the question's own,
/// not the prompt around it (`<bos>Question: `), nor the `<pad>`
/// augmentation after it.
enum QuestionTokens {
    /// Indices of the shown tokens among all of the query's.
    static func shown(_ tokens: [String], format: PromptFormat) -> [Int] {
        var start = 0
        while start < tokens.count, isSpecial(tokens[start]) { start += 1 }
        // Formats with a word before the question: skip through its colon.
        if format != .engine_0_3_13,
           let colon = tokens[start...].firstIndex(where: { display($0).trimmingCharacters(in: .whitespaces).hasSuffix(":") }) {
            start = colon + 1
        }
        let end = tokens[start...].firstIndex(of: "<pad>") ?? tokens.count
        return (start..<end).filter { !display(tokens[$0]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && !isSpecial(tokens[$0]) }
    }

    static func isSpecial(_ token: String) -> Bool { token.hasPrefix("<") && token.hasSuffix(">") && token.count > 2 }

    /// SentencePiece marks a word start with U+2581: a space here, so that
    /// the shown tokens joined give back the question's words.
    static func display(_ token: String) -> String {
        token.replacingOccurrences(of: "\u{2581}", with: " ")
    }
}
