import Foundation
import Logging
import PostgresNIO

/// Applies migrations in order, each in its own transaction, recording them
/// in `schema_migrations` with their checksums. Several processes may call it
/// at once (daemons starting together): an advisory lock serialises them.
public struct Migrator: Sendable {
    public struct Applied: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let checksum: String
    }

    public struct Report: Sendable {
        public var applied: [Migration] = []
        public var alreadyApplied: Int = 0
        public var currentVersion: Int = 0
    }

    public let migrations: [Migration]
    let logger: Logger

    /// Arbitrary constant: the key of the advisory lock held while migrating.
    static let lockKey: Int64 = 0x636F_6C70_616C_69

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    public func migrate(_ settings: ConnectionSettings) async throws -> Report {
        try await Database.withConnection(settings, logger: logger) { connection in
            try await migrate(on: connection)
        }
    }

    public func migrate(on connection: PostgresConnection) async throws -> Report {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let report = try await applyPending(on: connection)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return report
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    /// What is recorded in the database, oldest first; empty when the
    /// bookkeeping table does not exist yet.
    public func appliedMigrations(on connection: PostgresConnection) async throws -> [Applied] {
        let exists = try await connection.query(
            "SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            .collect().first?.decode(Bool.self) ?? false
        guard exists else { return [] }
        var applied: [Applied] = []
        let rows = try await connection.query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            applied.append(Applied(version: version, name: name, checksum: checksum))
        }
        return applied
    }

    /// Refuses to work against a database whose recorded migrations disagree
    /// with the files: a changed file, or a schema newer than the files.
    public func verify(_ applied: [Applied]) throws {
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in applied {
            guard let migration = byVersion[record.version] else {
                throw StorageError.schemaAhead(current: applied.last?.version ?? record.version, known: latestVersion)
            }
            if migration.checksum != record.checksum {
                throw StorageError.tamperedMigration(
                    file: migration.fileName, applied: record.checksum, onDisk: migration.checksum)
            }
        }
    }

    /// For tools that read and write but do not migrate: the database must be
    /// exactly at the latest version these files describe.
    public func requireCurrent(on connection: PostgresConnection) async throws {
        let applied = try await appliedMigrations(on: connection)
        try verify(applied)
        let current = applied.last?.version ?? 0
        if current < latestVersion { throw StorageError.schemaBehind(current: current, required: latestVersion) }
    }

    private func applyPending(on connection: PostgresConnection) async throws -> Report {
        // Nothing to do is done without DDL: a role that may not change the
        // schema (the ingest daemon's, see sql/roles.sql) can still start.
        let recorded = try await appliedMigrations(on: connection)
        try verify(recorded)
        if !recorded.isEmpty && recorded.count == migrations.count {
            return Report(alreadyApplied: recorded.count, currentVersion: recorded.last?.version ?? 0)
        }
        do {
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            // Only its owner writes the ledger, whatever default privileges say.
            try await connection.query("""
                DO $$ BEGIN
                    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'colpali_writer') THEN
                        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM colpali_writer;
                    END IF;
                END $$
                """, logger: logger)
        } catch {
            throw Self.classify(error, file: "schema_migrations")
        }
        let applied = try await appliedMigrations(on: connection)
        try verify(applied)
        let done = Set(applied.map(\.version))
        var report = Report(alreadyApplied: applied.count, currentVersion: applied.last?.version ?? 0)
        for migration in migrations where !done.contains(migration.version) {
            logger.info("applying migration", metadata: ["file": "\(migration.fileName)"])
            do {
                try await connection.transaction(logger: logger) { connection in
                    for statement in SQLScript.statements(migration.sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("""
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """, logger: logger)
                }
            } catch {
                throw Self.classify(error, file: migration.fileName)
            }
            report.applied.append(migration)
            report.currentVersion = migration.version
        }
        return report
    }

    /// The extension is the usual reason a first migration fails: say so plainly.
    static func classify(_ error: any Error, file: String) -> StorageError {
        let message = DatabaseErrors.describe(error)
        let state = DatabaseErrors.sqlState(error)
        if (state == "58P01" || state == "0A000") && message.contains("colpali") {
            return .extensionNotInstalled(reason: message)
        }
        if state == "42501" && message.contains("extension") {
            return .extensionPrivilege(reason: message)
        }
        if state == "42501" { return .migrationPrivilege(file: file, reason: message) }
        return .migrationFailed(file: file, reason: message)
    }
}
