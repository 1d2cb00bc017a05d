import ArgumentParser
import ColPaliCLISupport
import ColPaliSearch
import ColPaliStorage
import Foundation

/// `colpali collections list|delete`: the named sets of pages, one model each.
struct CollectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collections",
        abstract: "List or delete collections (created by `colpali-ingest add --collection NAME`).",
        subcommands: [List.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List collections with their model and size.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            // Both on one connection: the collections and their sizes.
            let (rows, collections) = try await Database.withConnection(database, logger: logger) { c in
                let rows = try await c.query("""
                    SELECT c.name, count(d.id) FILTER (WHERE d.status = 'ready'), coalesce(sum(d.page_count), 0)::bigint
                    FROM collections c LEFT JOIN documents d ON d.collection_id = c.id GROUP BY c.name
                    """, logger: logger).collect().map { try $0.decode((String, Int, Int).self) }
                return (rows, try await CollectionStore(logger: logger).list(on: c))
            }
            let sizes = Dictionary(uniqueKeysWithValues: rows.map { ($0.0, ($0.1, $0.2)) })
            if json {
                /// A collection with its size, as `--json` prints it.
                struct Entry: Encodable {
                    let collection: Collection
                    let documents: Int
                    let pages: Int
                    func encode(to encoder: any Encoder) throws {
                        try collection.encode(to: encoder)
                        var sizes = encoder.container(keyedBy: Keys.self)
                        try sizes.encode(documents, forKey: .documents)
                        try sizes.encode(pages, forKey: .pages)
                    }
                    enum Keys: String, CodingKey { case documents, pages }
                }
                let entries = collections.map { c in Entry(collection: c, documents: sizes[c.name]?.0 ?? 0, pages: sizes[c.name]?.1 ?? 0) }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.dateEncodingStrategy = .iso8601
                FileHandle.standardOutput.write(try encoder.encode(entries) + Data("\n".utf8))
                return
            }
            print(Table.row(["collection", "documents", "pages", "dim", "prompt format", "model"], widths: [-16, 9, 8, 5, -14, 0]))
            for collection in collections {
                let (documents, pages) = sizes[collection.name] ?? (0, 0)
                print(Table.row([collection.name, "\(documents)", "\(pages)", "\(collection.embeddingDimension)",
                                 collection.promptFormat.rawValue, collection.modelName], widths: [-16, 9, 8, 5, -14, 0]))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a collection with all its documents and pages.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The collection's name.") var name: String
        @Flag(help: "Really delete (every document and page of it goes).") var yes = false

        func validate() throws {
            if !yes { throw ValidationError("deleting collection '\(name)' deletes all its documents and pages: add --yes") }
        }

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let deleted = try await Database.withConnection(database, logger: logger) { c in
                try await CollectionStore(logger: logger).delete(name, on: c)
            }
            guard deleted else { throw CollectionError.notFound(name) }
            print("deleted collection \(name)")
        }
    }
}
