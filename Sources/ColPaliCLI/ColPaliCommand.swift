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

    static func main() async {
        await runMain(defaultLogLevel: .warning)
    }
}
