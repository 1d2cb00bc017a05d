import ArgumentParser
import ColPaliCLISupport
import ColPaliCore
import Foundation

@main
struct ColPaliCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colpali",
        abstract: "Visual document retrieval on PostgreSQL with ColPali.",
        discussion: """
            Without --database-url or DATABASE_URL, commands use your local database (a private PostgreSQL in \
            ~/.local/share/colpali, or --data-dir / COLPALI_DATA_DIR): commands that add data create and start it, \
            commands that read never do. Exit status: 0 success, 1 failure, 64 usage error.
            """,
        version: ColPaliVersion.string,
        subcommands: [SearchCommand.self, ExplainCommand.self, ServeCommand.self, DocumentsCommand.self, CollectionsCommand.self, IndexCommand.self, EmbedCommand.self,
                      DatabaseCommand.self, MigrateCommand.self, DistributeCommand.self]
    )

    static func main() async {
        await runMain(defaultLogLevel: .warning)
    }
}
