import Foundation
import Logging
import PostgresNIO

/// Spreads a database over a Citus cluster by document: `documents` and
/// `pages` become distributed tables sharded by document id and colocated
/// (a document and its pages live on one worker, so storing, deleting and
/// the search's join stay on one shard), `collections` a reference table
/// (a copy on every node). `ingest_jobs` and `schema_migrations` stay on
/// the coordinator. Searches and ingest run unchanged through the
/// coordinator; docs/scale-out.md has the cluster set-up and measurements.
///
/// What changes on Citus, because it cannot enforce it across shards:
/// - `documents_content` becomes a plain index: a unique constraint must
///   include the distribution column. Ingest still stores a file once per
///   collection and tenant, serialised by an advisory lock on the
///   coordinator, so every writer must go through the coordinator.
/// - The trigger that checks a page's dimension against its collection is
///   dropped (it would query other shards for every row); ingest checks the
///   model against the collection before embedding anything.
/// - Row-level security needs `colpali.tenant` on the workers too: the
///   database is set to propagate `SET LOCAL` (citus.propagate_set_commands,
///   when run by the database's owner); the Swift client sets it in its own
///   transactions either way.
public enum Distribution {
    /// The schema version the statements are written for (migration 0005).
    public static let schemaVersion = 5

    public enum State: Sendable, Equatable {
        /// Plain tables on one server.
        case single
        /// Distributed, with this many shards for documents and pages.
        case distributed(shards: Int)
    }

    /// What `distribute` did.
    public struct Outcome: Sendable, Equatable {
        /// The tables were distributed before: nothing was changed.
        public let alreadyDistributed: Bool
        public let shards: Int
        public let workers: Int
        public let documents: Int
        public let pages: Int
        /// Whether every session passes SET LOCAL on to the workers (only
        /// the database's owner can set that; SQL written by hand for
        /// row-level security needs it).
        public let propagatesSetLocal: Bool
    }

    public enum DistributionError: Error, CustomStringConvertible, Sendable, Equatable {
        /// The server has no Citus extension in this database.
        case notCitus
        /// Citus has no worker to put shards on.
        case noWorkers
        case schemaTooOld(current: Int, required: Int)
        /// Some of the tables are distributed and others not (changed by hand).
        case partlyDistributed(distributed: [String])
        case invalidShardCount(Int)

        public var description: String {
            switch self {
            case .notCitus: return "this database has no citus extension: distributing needs a Citus coordinator"
            case .noWorkers: return "the Citus cluster has no worker nodes to place shards on"
            case .schemaTooOld(let current, let required):
                return "the schema is at version \(current); distributing needs version \(required) or later"
            case .partlyDistributed(let tables):
                return "only some tables are distributed (\(tables.joined(separator: ", "))); the layout was changed by hand"
            case .invalidShardCount(let count): return "shard count \(count) is outside 1...1024"
            }
        }
    }

    /// The statements that distribute a database at ``schemaVersion``, in
    /// order; they run in one transaction. `shardCount` nil keeps Citus's
    /// `citus.shard_count` (32 by default).
    public static func statements(shardCount: Int?) -> [String] {
        let shards = shardCount.map { ", shard_count => \($0)" } ?? ""
        return [
            // A foreign key to a reference table needs one connection per node.
            "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'",
            // Distributing a table with a foreign key to a plain table is refused,
            // and making collections a reference table first would turn documents
            // into a Citus local table that cannot then be distributed: the key
            // goes, and comes back once all three are placed.
            "ALTER TABLE documents DROP CONSTRAINT documents_collection_id_fkey",
            "ALTER TABLE documents DROP CONSTRAINT documents_content",
            "CREATE INDEX documents_content ON documents (collection_id, tenant, content_hash)",
            "DROP TRIGGER pages_check_dimension ON pages",
            "SELECT create_distributed_table('documents', 'id'\(shards))",
            "SELECT create_distributed_table('pages', 'document_id', colocate_with => 'documents')",
            "SELECT create_reference_table('collections')",
            """
            ALTER TABLE documents ADD CONSTRAINT documents_collection_id_fkey
                FOREIGN KEY (collection_id) REFERENCES collections (id) ON DELETE CASCADE
            """,
            // The coordinator's own copies are no longer read: free the space.
            "SELECT truncate_local_data_after_distributing_table('pages')",
            "SELECT truncate_local_data_after_distributing_table('documents')",
            "SELECT truncate_local_data_after_distributing_table('collections')",
            // Row-level security on the workers reads colpali.tenant: let SET LOCAL
            // reach them. Only the database's owner may set this for everyone.
            """
            DO $$ BEGIN
                IF pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER') THEN
                    EXECUTE format('ALTER DATABASE %I SET citus.propagate_set_commands = %L', current_database(), 'local');
                ELSE
                    RAISE WARNING 'only the database owner can set citus.propagate_set_commands = ''local'' for every session; '
                        'until it is set, SQL written by hand must SET it before SET LOCAL colpali.tenant';
                END IF;
            END $$
            """,
        ]
    }

    /// Whether the database is distributed (also on a server without Citus).
    public static func state(on connection: PostgresConnection, logger: Logger) async throws -> State {
        guard try await hasCitus(on: connection, logger: logger) else { return .single }
        let rows = try await connection.query("""
            SELECT logicalrelid::regclass::text, partmethod::text,
                   (SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid)::int
            FROM pg_dist_partition p
            WHERE logicalrelid IN ('documents'::regclass, 'pages'::regclass, 'collections'::regclass)
            """, logger: logger).collect().map { try $0.decode((String, String, Int).self) }
        if rows.isEmpty { return .single }
        let expected: [String: String] = ["documents": "h", "pages": "h", "collections": "n"]
        let placed = Dictionary(rows.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        guard placed == expected else { throw DistributionError.partlyDistributed(distributed: placed.keys.sorted()) }
        return .distributed(shards: rows.first { $0.0 == "documents" }?.2 ?? 0)
    }

    /// Distributes the database, or reports that it is already. The schema
    /// must be at ``schemaVersion`` or later (run the migrations first).
    public static func distribute(shardCount: Int?, on connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        if let shardCount, !(1...1024).contains(shardCount) { throw DistributionError.invalidShardCount(shardCount) }
        guard try await hasCitus(on: connection, logger: logger) else { throw DistributionError.notCitus }
        let version = try await connection.query(
            "SELECT coalesce(max(version), 0)::int FROM schema_migrations", logger: logger).collect().first?.decode(Int.self) ?? 0
        guard version >= schemaVersion else { throw DistributionError.schemaTooOld(current: version, required: schemaVersion) }
        let workers = try await connection.query(
            "SELECT count(*)::int FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND shouldhaveshards AND groupid <> 0",
            logger: logger).collect().first?.decode(Int.self) ?? 0
        guard workers > 0 else { throw DistributionError.noWorkers }
        var already = false
        if case .distributed = try await state(on: connection, logger: logger) {
            already = true
        } else {
            try await connection.transaction(logger: logger) { c in
                for statement in statements(shardCount: shardCount) {
                    try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
            logger.notice("distributed documents and pages by document", metadata: ["workers": "\(workers)"])
        }
        guard case .distributed(let shards) = try await state(on: connection, logger: logger) else {
            throw DistributionError.partlyDistributed(distributed: [])
        }
        let (documents, pages) = try await connection.query(
            "SELECT (SELECT count(*) FROM documents)::int, (SELECT count(*) FROM pages)::int", logger: logger)
            .collect().first!.decode((Int, Int).self)
        let propagates = try await connection.query("""
            SELECT count(*)::int FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
            WHERE d.datname = current_database() AND s.setrole = 0 AND 'citus.propagate_set_commands=local' = ANY (s.setconfig)
            """, logger: logger).collect().first?.decode(Int.self) == 1
        return Outcome(alreadyDistributed: already, shards: shards, workers: workers, documents: documents, pages: pages,
                       propagatesSetLocal: propagates)
    }

    static func hasCitus(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT count(*)::int FROM pg_extension WHERE extname = 'citus'", logger: logger)
            .collect().first?.decode(Int.self) == 1
    }
}
