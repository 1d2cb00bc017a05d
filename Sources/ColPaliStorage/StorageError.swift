import Foundation

/// Everything the storage layer reports. Each case renders as one line that
/// states the problem; what to do about it is the caller's to say (the
/// command-line tools add it, see ColPaliCLISupport's Remedies).
public enum StorageError: Error, CustomStringConvertible, Sendable {
    case invalidDatabaseURL(String, reason: String)
    case unreachable(target: String, reason: String)
    case authenticationFailed(target: String, reason: String)
    case databaseMissing(target: String, database: String)
    case extensionNotInstalled(reason: String)
    case extensionMissing(database: String)
    case extensionPrivilege(reason: String)
    case schemaBehind(current: Int, required: Int)
    case schemaAhead(current: Int, known: Int)
    case migrationsNotFound(searched: [String])
    case invalidMigrationFile(String, reason: String)
    case tamperedMigration(file: String, applied: String, onDisk: String)
    case migrationFailed(file: String, reason: String)
    case migrationPrivilege(file: String, reason: String)
    case postgresNotInstalled(searched: [String])
    case clusterCommandFailed(command: String, output: String)
    case clusterUnusable(reason: String)
    /// A read-only command found no local database (it creates none).
    case localDatabaseMissing(dataDirectory: String)
    /// A read-only command found the local database stopped (it starts none).
    case localDatabaseStopped(dataDirectory: String)
    case query(String)
    /// A candidate index asked for with a number of centroids it cannot have.
    case invalidIndexLists(Int, allowed: ClosedRange<Int>)
    /// CREATE INDEX returned, yet the catalog shows no colpali_ivf index on pages.
    case indexMissingAfterBuild
    /// A shard of the distributed pages table did not answer a question about it.
    case shardUnavailable(shard: Int64, reason: String)

    public var description: String {
        switch self {
        case .invalidDatabaseURL(let url, let reason):
            return "invalid database URL '\(url)': \(reason)"
        case .unreachable(let target, let reason):
            return "cannot reach the database at \(target): \(reason)"
        case .authenticationFailed(let target, let reason):
            return "the database at \(target) refused the login: \(reason)"
        case .databaseMissing(let target, let database):
            return "the server at \(target) has no database '\(database)'"
        case .extensionNotInstalled(let reason):
            return "the colpali extension is not installed on the database server (\(reason))"
        case .extensionMissing(let database):
            return "database '\(database)' does not have the colpali extension"
        case .extensionPrivilege(let reason):
            return "not allowed to create the colpali extension (\(reason))"
        case .schemaBehind(let current, let required):
            return "the database schema is at version \(current) but this colpali needs version \(required)"
        case .schemaAhead(let current, let known):
            return "the database schema is at version \(current), newer than this colpali knows (\(known))"
        case .migrationsNotFound(let searched):
            return "cannot find the migrations directory (looked in \(searched.joined(separator: ", ")))"
        case .invalidMigrationFile(let file, let reason):
            return "migration file \(file) is not usable: \(reason)"
        case .tamperedMigration(let file, let applied, let onDisk):
            return "migration \(file) was changed after it was applied (checksum \(applied.prefix(12)) in the database, "
                + "\(onDisk.prefix(12)) on disk)"
        case .migrationFailed(let file, let reason):
            return "migration \(file) failed and was rolled back: \(reason)"
        case .migrationPrivilege(let file, let reason):
            return "migration \(file) needs to change the schema and this role may not (\(reason))"
        case .postgresNotInstalled(let searched):
            return "PostgreSQL server programs (initdb, pg_ctl) not found in \(searched.joined(separator: ", "))"
        case .clusterCommandFailed(let command, let output):
            let detail = output.split(separator: "\n").last.map(String.init) ?? ""
            return "\(command) failed: \(detail.isEmpty ? "no output" : detail)"
        case .clusterUnusable(let reason):
            return "the local database cannot be used: \(reason)"
        case .localDatabaseMissing(let directory):
            return "there is no local database in \(directory) yet"
        case .localDatabaseStopped(let directory):
            return "the local database in \(directory) is not running"
        case .query(let message):
            return message
        case .invalidIndexLists(let lists, let allowed):
            return "an index of \(lists) lists is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case .indexMissingAfterBuild:
            return "the candidate index was built but is not in the catalog (was it dropped meanwhile?)"
        case .shardUnavailable(let shard, let reason):
            return "shard \(shard) of pages did not answer: \(reason)"
        }
    }
}
