import ArgumentParser
import ColPaliCLISupport
import ColPaliIngest
import ColPaliModel
import ColPaliSearch
import ColPaliServer
import ColPaliStorage
import Foundation

/// `colpali explain "question" --page-id ID -o map.png`: which patches matched.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Draw the similarity map of a question over a page (ColPali's interpretability view).",
        discussion: """
            Name the page by its id (as `colpali search` prints it) or by document and page number. The map is \
            drawn over the page image stored at ingest (--store-images), else over the page rendered again \
            from its source file when that file is still there, unchanged.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The question.") var question: String
    @Option(name: .customLong("page-id"), help: "Page id (the `page id` column of `colpali search`).") var pageID: Int?
    @Option(name: .customLong("document"), help: "Document id (with --page).") var document: Int?
    @Option(name: .customLong("page"), help: "Page number within --document, from 1.") var pageNumber: Int?
    @Option(name: [.customShort("o"), .customLong("output"), .customLong("out")], help: "PNG file to write.") var output: String
    @Option(help: "Draw one query token's map (its index, from the printed token list) instead of the combined one.")
    var token: Int?

    func validate() throws {
        switch (pageID, document, pageNumber) {
        case (.some, nil, nil), (nil, .some, .some): break
        case (nil, nil, .some):
            throw ValidationError("--page is a page number within a document: add --document ID, or use --page-id")
        default:
            throw ValidationError("name the page with --page-id ID, or with --document ID --page N")
        }
        if let token, token < 0 { throw ValidationError("--token must be 0 or more") }
    }

    func run() async throws {
        let logger = global.logger
        let database = try await global.open(.existing, command: "colpali", logger: logger)
        let model = try await modelOptions.loadModel()
        let (question, pageID, document, number) = (self.question, self.pageID, self.document, self.pageNumber)
        let (map, page) = try await SearchClient.with(database: database, model: model, logger: logger) { client in
            let page: StoredPage
            if let pageID {
                page = try await client.page(id: pageID)
            } else {
                page = try await client.page(documentID: document!, number: number!)
            }
            // The page is in hand: embed for its collection, without reading it again.
            let embedded = try await client.embed(question, for: page.collection)
            return (try await client.similarityMap(embedding: embedded.embedding, tokens: embedded.tokens, pageID: page.pageID), page)
        }
        if let token, !map.tokens.indices.contains(token) {
            throw ValidationError("--token must be from 0 to \(map.tokens.count - 1)")
        }
        let background = try Self.background(of: page)
        let values = token.map { map.normalized(token: $0) } ?? map.combined()
        let overlay = HeatmapOverlay.draw(values, grid: map.grid, over: background)
        try OutputFile.write(try overlay.pngData(), to: output)
        for (index, text) in map.tokens.enumerated() {
            let best = map.scores[index].max() ?? 0
            print(String(format: "%3d  %-20@  best patch %.3f", index, text.debugDescription as NSString, best))
        }
        print("wrote \(output) (\(map.grid) x \(map.grid) patches over \(overlay.width) x \(overlay.height) px, "
              + "document \(page.documentID) page \(page.pageNumber))")
    }

    /// The page to draw over; said on stderr when it was rendered from its source.
    static func background(of page: StoredPage) throws -> RGBImage {
        do {
            let (image, rendered) = try PageBackground.image(of: page)
            if rendered {
                let path = SourceURI.path(of: page.sourceURI)
                FileHandle.standardError.write(Data("colpali: no image was stored for this page: drawn over page \(page.pageNumber) rendered from \(path)\n".utf8))
            }
            return image
        } catch let failure as PageBackground.Failure {
            throw CLIError("\(failure); ingest with --store-images jpeg to keep page images")
        }
    }
}
