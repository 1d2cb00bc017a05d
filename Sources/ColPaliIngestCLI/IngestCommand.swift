import ArgumentParser
import ColPaliCore
import ColPaliCLISupport
import Foundation
import Logging

@main
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colpali-ingest",
        abstract: "Turn PDFs and page images into searchable pages in PostgreSQL.",
        version: ColPaliVersion.string,
        subcommands: [AddCommand.self, RunCommand.self, ImportCommand.self, RenderCommand.self]
    )

    static func main() async {
        await runMain(defaultLogLevel: .notice)
    }
}
