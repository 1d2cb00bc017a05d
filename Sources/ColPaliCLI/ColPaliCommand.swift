import ArgumentParser
import ColPaliCLISupport
import Foundation

@main
struct ColPaliCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colpali",
        abstract: "Visual document retrieval on PostgreSQL with ColPali.",
        discussion: """
            Without --database-url or DATABASE_URL, commands use a private local PostgreSQL \
            under the data directory (.colpali), started on demand.
            """,
        subcommands: [SearchCommand.self, ExplainCommand.self, DocumentsCommand.self, EmbedCommand.self,
                      DatabaseCommand.self, MigrateCommand.self]
    )

    /// Every failure ends as one line on stderr and a non-zero status, never a trace.
    static func main() async {
        CommandLogging.bootstrap(defaultLevel: .warning)
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
