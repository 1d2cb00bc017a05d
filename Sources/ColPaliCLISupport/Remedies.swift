import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation

/// What a user of the command-line tools can do about an error. Library
/// errors state the problem only; the tools add the remedy, in the tools'
/// own terms (flags, commands, environment variables).
public enum Remedies {
    public static func remedy(for error: any Error) -> String? {
        if let storage = error as? StorageError { return remedy(storage) }
        if let hub = error as? HubError { return remedy(hub) }
        if let search = error as? SearchError { return remedy(search) }
        if let collection = error as? CollectionError { return remedy(collection) }
        if let distribution = error as? Distribution.DistributionError { return remedy(distribution) }
        return nil
    }

    static func remedy(_ error: Distribution.DistributionError) -> String? {
        switch error {
        case .notCitus: return "point --database-url at the Citus coordinator (docs/scale-out.md)"
        case .noWorkers: return "add workers on the coordinator with SELECT citus_add_node('host', 5432)"
        case .schemaTooOld: return "run `colpali migrate`"
        case .partlyDistributed: return "compare with `colpali distribute --print-sql` and finish or undo it by hand"
        case .invalidShardCount: return nil
        }
    }

    static func remedy(_ error: StorageError) -> String? {
        switch error {
        case .invalidDatabaseURL:
            return "expected postgresql://user:password@host:port/database"
        case .unreachable:
            return "is the server running? Unset DATABASE_URL to use the local database (`colpali db start`)"
        case .authenticationFailed:
            return "check the user and password in DATABASE_URL (or DATABASE_PASSWORD_FILE, PGPASSWORD)"
        case .databaseMissing(_, let database):
            return "create it (createdb \(database)) or fix DATABASE_URL"
        case .extensionNotInstalled:
            return "install it on the server with scripts/install-extension.sh, then run `colpali migrate`"
        case .extensionMissing:
            return "run `colpali migrate`"
        case .extensionPrivilege:
            return "ask a superuser to run CREATE EXTENSION colpali in this database, then run `colpali migrate`"
        case .schemaBehind:
            return "run `colpali migrate`"
        case .schemaAhead:
            return "upgrade colpali"
        case .migrationsNotFound:
            return "set COLPALI_MIGRATIONS_DIR to the repository's migrations/ folder"
        case .tamperedMigration:
            return "restore the original file and put changes in a new migration"
        case .migrationPrivilege:
            return "run `colpali migrate` as the schema owner (colpali_owner, see sql/roles.sql)"
        case .postgresNotInstalled:
            return "install them with scripts/install-system-packages.sh, or set DATABASE_URL to an existing server"
        case .localDatabaseMissing:
            return "ingest documents with `colpali-ingest add FILE` (which creates it), or point --data-dir, "
                + "COLPALI_DATA_DIR or DATABASE_URL at yours"
        case .localDatabaseStopped:
            return "start it with `colpali db start`"
        default:
            return nil
        }
    }

    static func remedy(_ error: SearchError) -> String? {
        switch error {
        case .noPages: return "ingest documents first (colpali-ingest add FILE)"
        case .pooledPage: return "re-add the document with --pool-factor 1 --force to keep every patch vector"
        case .noCandidateIndex: return "build one with colpali index create (once pages are loaded), or leave out --probes"
        default: return nil
        }
    }

    static func remedy(_ error: CollectionError) -> String? {
        switch error {
        case .notFound: return "`colpali collections list` shows them; `colpali-ingest add --collection NAME` creates one"
        case .otherModel: return "use that model (--model), or another collection (--collection)"
        case .otherPromptFormat: return "use that prompt format (--prompt-format), or another collection (--collection)"
        default: return nil
        }
    }

    static func remedy(_ error: HubError) -> String? {
        switch error {
        case .offlineAndMissing:
            return "put the model in the cache, unset HF_HUB_OFFLINE, or use a local model directory with --model "
                + "(the small test model: Tests/Fixtures/models/hf-fp32)"
        default:
            return nil
        }
    }
}
