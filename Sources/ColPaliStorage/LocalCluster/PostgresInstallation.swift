import Foundation

/// The PostgreSQL server programs on this machine (initdb, pg_ctl, postgres).
package struct PostgresInstallation {
    let binDirectory: URL

    var initdb: String { binDirectory.appendingPathComponent("initdb").path }
    var pgCtl: String { binDirectory.appendingPathComponent("pg_ctl").path }

    /// `COLPALI_PG_BINDIR`, else the newest /usr/lib/postgresql/N/bin (Debian),
    /// else the directory of a `pg_ctl` on PATH.
    package static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresInstallation {
        var searched: [String] = []
        func usable(_ directory: String) -> PostgresInstallation? {
            searched.append(directory)
            let url = URL(fileURLWithPath: directory)
            let found = PostgresInstallation(binDirectory: url)
            return FileManager.default.isExecutableFile(atPath: found.initdb)
                && FileManager.default.isExecutableFile(atPath: found.pgCtl) ? found : nil
        }
        if let explicit = environment["COLPALI_PG_BINDIR"] {
            if let found = usable(explicit) { return found }
            throw StorageError.postgresNotInstalled(searched: searched)
        }
        let debianRoot = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debianRoot)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            if let found = usable("\(debianRoot)/\(version)/bin") { return found }
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            if let found = usable(String(directory)) { return found }
        }
        throw StorageError.postgresNotInstalled(searched: searched)
    }
}
