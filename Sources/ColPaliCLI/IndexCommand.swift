import ArgumentParser
import ColPaliCLISupport
import ColPaliStorage
import Foundation

/// `colpali index create|status|drop`: the candidate index searches use.
struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build, show or drop the candidate index (colpali_ivf) that makes searches sub-linear.",
        subcommands: [Create.self, Status.self, Drop.self])

    static func describe(_ status: CandidateIndex.Status) -> String {
        let size = ByteCountFormatter.string(fromByteCount: status.bytes, countStyle: .binary)
        if !status.valid { return "\(status.name): not valid (a build is under way or failed), \(size)" }
        if let shards = status.shards {
            let empty = shards.withoutCentroids == 0 ? ""
                : ", \(shards.withoutCentroids) of them built while holding no pages (those order their rows exactly until colpali index create rebuilds it)"
            return "\(status.name): \(status.lists) lists on \(shards.count) shards\(empty), \(size)"
        }
        if status.lists == 0 { return "\(status.name): built over a table without pages, not used (run colpali index create)" }
        return "\(status.name): \(status.lists) lists, \(size)"
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the index from the pages stored now, or rebuild it (writes wait; searches go on).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Centroids the page tokens are clustered into (default \(CandidateIndex.defaultLists); kept on rebuild).")
        var lists: Int?

        func validate() throws {
            if let lists, !CandidateIndex.allowedLists.contains(lists) {
                throw ValidationError("--lists must be between 1 and \(CandidateIndex.allowedLists.upperBound)")
            }
        }

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let started = Date()
            let status = try await Database.withConnection(database, logger: logger) { c in
                try await CandidateIndex.build(lists: lists, on: c, logger: logger)
            }
            print(IndexCommand.describe(status) + String(format: ", built in %.1f s", Date().timeIntervalSince(started)))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the index, if there is one.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let status = try await Database.withConnection(database, logger: logger) { c in
                try await CandidateIndex.status(on: c, logger: logger)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(status.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) } ?? "null")
                return
            }
            print(status.map(IndexCommand.describe) ?? "no candidate index: searches use the codes prefilter (colpali index create builds one)")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop the index (searches fall back to the codes prefilter).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let logger = global.logger
            let database = try await global.open(.existing, command: "colpali", logger: logger)
            let dropped = try await Database.withConnection(database, logger: logger) { c in
                try await CandidateIndex.drop(on: c, logger: logger)
            }
            print(dropped ? "dropped the candidate index" : "there was no candidate index")
        }
    }
}
