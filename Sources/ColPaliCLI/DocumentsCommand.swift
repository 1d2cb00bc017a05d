import ArgumentParser
import ColPaliCLISupport
import ColPaliSearch
import ColPaliStorage
import Foundation

/// `colpali documents list|delete`.
struct DocumentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "documents", abstract: "List or delete stored documents.", subcommands: [List.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List documents, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("collection"), help: ArgumentHelp("Only this collection's documents.", valueName: "name"))
        var collection: String?
        @Option(help: ArgumentHelp("Only this tenant's documents.", valueName: "name")) var tenant: String?
        @Option(help: "Most documents to list (1-10000).") var limit = 100
        @Flag(help: "Print JSON instead of a table.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
        }

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let (limit, collection) = (self.limit, self.collection)
            var configuration = SearchClient.Configuration(database: database)
            configuration.tenant = tenant
            let documents = try await SearchClient.with(configuration, model: nil, logger: logger) { client in
                try await client.documents(in: collection, limit: limit)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                encoder.dateEncodingStrategy = .iso8601
                encoder.keyEncodingStrategy = .convertToSnakeCase
                FileHandle.standardOutput.write(try encoder.encode(documents) + Data("\n".utf8))
                return
            }
            print(Table.row(["id", "collection", "status", "pages", "document"], widths: [6, -12, -8, 7, 0]))
            for d in documents {
                let name = d.title.map { "\($0) (\(d.sourceURI))" } ?? d.sourceURI
                let pages = d.pageCount.map { count in d.sourcePageCount.map { "\(count)/\($0)" } ?? "\(count)" } ?? "-"
                let collection = d.tenant.isEmpty ? d.collection : "\(d.collection)/\(d.tenant)"
                print(Table.row(["\(d.id)", collection, d.status.rawValue, pages, name], widths: [6, -12, -8, 7, 0])
                      + (d.error.map { "  -- \($0)" } ?? ""))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a document and its pages.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (from `colpali documents list`).") var id: Int

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let id = self.id
            let deleted = try await SearchClient.with(database: database, model: nil, logger: logger) { client in
                try await client.deleteDocument(id: id)
            }
            guard deleted else { throw CLIError("there is no document \(id)") }
            print("deleted document \(id)")
        }
    }
}
