import ArgumentParser
import ColPaliCLISupport
import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation

/// `colpali explain "question" --page ID --out map.png`: which patches matched.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Draw the similarity map of a question over a stored page (ColPali's interpretability view).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The question.") var question: String
    @Option(help: "Page id (as `colpali search` prints it).") var page: Int
    @Option(name: .customLong("out"), help: "PNG file to write.") var output: String
    @Option(help: "Draw one query token's map (its index, from the printed token list) instead of the combined one.")
    var token: Int?

    func run() async throws {
        let logger = global.logger
        let database = try await global.target().openChecked(logger: logger)
        let model = try await modelOptions.loadModel()
        let (question, page) = (self.question, self.page)
        let (map, imageData) = try await SearchClient.with(database: database, model: model, logger: logger) { client in
            let map = try await client.similarityMap(question: question, pageID: page)
            let image = try await client.pageImage(pageID: page)
            return (map, image.data)
        }
        if let token, !map.tokens.indices.contains(token) {
            throw ValidationError("--token must be from 0 to \(map.tokens.count - 1)")
        }
        let values = token.map { map.normalized(token: $0) } ?? map.combined()
        let overlay = HeatmapOverlay.draw(values, grid: map.grid, over: try RGBImage.decode(imageData, source: "page \(page)"))
        try OutputFile.write(try overlay.pngData(), to: output)
        for (index, text) in map.tokens.enumerated() {
            let best = map.scores[index].max() ?? 0
            print(String(format: "%3d  %-20@  best patch %.3f", index, text.debugDescription as NSString, best))
        }
        print("wrote \(output) (\(map.grid) x \(map.grid) patches over \(overlay.width) x \(overlay.height) px)")
    }
}
