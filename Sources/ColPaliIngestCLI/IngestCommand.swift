import ArgumentParser
import ColPaliCLISupport
import Foundation
import Logging

@main
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colpali-ingest",
        abstract: "Turn PDFs and page images into searchable pages in PostgreSQL.",
        subcommands: [AddCommand.self, RunCommand.self, RenderCommand.self]
    )

    static func main() async {
        CommandLogging.bootstrap(defaultLevel: .notice)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            ErrorReporter.exit(with: error, command: self)
        }
    }
}
