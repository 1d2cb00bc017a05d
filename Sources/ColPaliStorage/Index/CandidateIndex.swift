import Foundation
import Logging
import PostgresNIO

/// The pages' `colpali_ivf` index: the candidate stage that finds a
/// question's likely pages without reading every page. It learns its
/// centroids from the pages present when it is built, so it is made once
/// pages are loaded and rebuilt when the corpus has changed character.
/// Searches use it as soon as it is built; without it they fall back to the
/// codes prefilter.
public enum CandidateIndex {
    public static let name = "pages_embedding_ivf"
    public static let defaultLists = 1024
    public static let allowedLists = 1...65_536

    /// What the database has.
    public struct Status: Sendable, Codable, Equatable {
        public let name: String
        /// Centroids; 0 when built over a table without pages (then unused).
        /// Where `pages` is distributed, the most any shard's index has.
        public let lists: Int
        /// Where `pages` is distributed, the shards' indexes together.
        public let bytes: Int64
        /// False while a build is under way or after one failed.
        public let valid: Bool
        /// Set where `pages` is distributed (Citus): the index the
        /// coordinator holds is an empty shell, each shard's does the work.
        public let shards: Shards?

        public struct Shards: Sendable, Codable, Equatable {
            public let count: Int
            /// Shards whose index was built while they held no pages: they
            /// order their rows exactly until the index is rebuilt.
            public let withoutCentroids: Int
        }
    }

    /// The index on `pages`, if there is one.
    public static func status(on connection: PostgresConnection, logger: Logger) async throws -> Status? {
        let rows = try await connection.query("""
            SELECT c.relname, i.indisvalid, pg_relation_size(c.oid),
                   CASE WHEN i.indisvalid AND a.amname = 'colpali_ivf' THEN colpali_ivf_lists(c.oid) ELSE 0 END
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
            WHERE i.indrelid = 'pages'::regclass AND a.amname = 'colpali_ivf'
            ORDER BY c.relname LIMIT 1
            """, logger: logger).collect()
        guard let row = rows.first else { return nil }
        let (name, valid, bytes, lists) = try row.decode((String, Bool, Int64, Int32).self)
        guard valid, try await pagesAreDistributed(on: connection, logger: logger) else {
            return Status(name: name, lists: Int(lists), bytes: bytes, valid: valid, shards: nil)
        }
        let shards = try await shardIndexes(on: connection, logger: logger)
        return Status(name: name, lists: shards.map(\.lists).max() ?? 0, bytes: shards.reduce(0) { $0 + $1.bytes }, valid: valid,
                      shards: Status.Shards(count: shards.count, withoutCentroids: shards.filter { $0.lists == 0 }.count))
    }

    /// Each shard's own index on its pages: centroids (0 where it has none
    /// or no valid index) and bytes.
    private static func shardIndexes(on connection: PostgresConnection, logger: Logger) async throws -> [(lists: Int, bytes: Int64)] {
        // run_command_on_shards puts each shard's table name where %s is.
        let rows = try await connection.query("""
            SELECT shardid, success, result FROM run_command_on_shards('pages', $command$
                SELECT coalesce(max(CASE WHEN a.amname = 'colpali_ivf' THEN colpali_ivf_lists(i.indexrelid) END), 0)
                       || ' ' || coalesce(sum(pg_relation_size(i.indexrelid)), 0)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                WHERE i.indrelid = '%s'::regclass AND a.amname = 'colpali_ivf' AND i.indisvalid
            $command$) ORDER BY shardid
            """, logger: logger).collect()
        return try rows.map { row in
            let (shard, success, result) = try row.decode((Int64, Bool, String).self)
            let fields = result.split(separator: " ")
            guard success, fields.count == 2, let lists = Int(fields[0]), let bytes = Int64(fields[1]) else {
                throw StorageError.shardUnavailable(shard: shard, reason: result)
            }
            return (lists, bytes)
        }
    }

    private static func pagesAreDistributed(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let citus = try await connection.query("SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL", logger: logger)
            .collect().first!.decode(Bool.self)
        guard citus else { return false }
        // Only asked where Citus's catalog exists: elsewhere the name would not parse.
        return try await connection.query("SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'pages'::regclass)",
                                          logger: logger).collect().first!.decode(Bool.self)
    }

    /// Whether searches can use the index: one is built with centroids on
    /// `pages`. On a Citus coordinator the `pages` it sees is an empty shell
    /// whose own index never has centroids; the shards' indexes, built from
    /// their pages by the same `CREATE INDEX`, are what a search's
    /// `ORDER BY <#>` runs on, so there a valid index on the distributed
    /// table is enough. (A shard whose index was built while it held no pages
    /// orders its rows exactly instead: slower there, never wrong.)
    public static func isSearchable(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let (withCentroids, valid) = try await connection.query("""
            SELECT coalesce(bool_or(CASE WHEN a.amname = 'colpali_ivf' THEN colpali_ivf_lists(i.indexrelid) > 0 END), false),
                   count(*) > 0
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
            -- CASE: the planner may test colpali_ivf_lists before the access method
            WHERE i.indrelid = 'pages'::regclass AND a.amname = 'colpali_ivf' AND i.indisvalid
            """, logger: logger).collect().first!.decode((Bool, Bool).self)
        if withCentroids { return true }
        guard valid else { return false }
        return try await pagesAreDistributed(on: connection, logger: logger)
    }

    /// Builds the index from the pages there are now (rebuilding it when it
    /// exists, with `lists` centroids when given). Writes to pages wait
    /// while it builds; searches go on.
    public static func build(lists: Int? = nil, on connection: PostgresConnection, logger: Logger) async throws -> Status {
        if let lists, !allowedLists.contains(lists) { throw StorageError.invalidIndexLists(lists, allowed: allowedLists) }
        let existing = try await status(on: connection, logger: logger)
        if let existing, lists == nil {
            _ = try await connection.query(PostgresQuery(unsafeSQL: "REINDEX INDEX \(existing.name)"), logger: logger)
        } else {
            if let existing {
                _ = try await connection.query(PostgresQuery(unsafeSQL: "DROP INDEX \(existing.name)"), logger: logger)
            }
            // lists is a checked integer: the only value in this statement.
            _ = try await connection.query(PostgresQuery(unsafeSQL: """
                CREATE INDEX \(name) ON pages USING colpali_ivf (embedding) WITH (lists = \(lists ?? defaultLists))
                """), logger: logger)
        }
        guard let built = try await status(on: connection, logger: logger) else { throw StorageError.indexMissingAfterBuild }
        return built
    }

    /// Drops the index; false when there was none.
    public static func drop(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        guard let existing = try await status(on: connection, logger: logger) else { return false }
        _ = try await connection.query(PostgresQuery(unsafeSQL: "DROP INDEX \(existing.name)"), logger: logger)
        return true
    }
}
