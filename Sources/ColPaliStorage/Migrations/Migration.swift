import Crypto
import Foundation

/// One versioned schema change: `migrations/NNNN_description.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let fileName: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex: an applied migration must never change.
    public let checksum: String

    public init(fileName: String, contents: Data) throws {
        let stem = (fileName as NSString).deletingPathExtension
        guard let underscore = stem.firstIndex(of: "_"),
              let version = Int(stem[..<underscore]), version > 0 else {
            throw StorageError.invalidMigrationFile(fileName, reason: "the name must look like 0001_description.sql")
        }
        guard let sql = String(data: contents, encoding: .utf8) else {
            throw StorageError.invalidMigrationFile(fileName, reason: "not UTF-8 text")
        }
        self.version = version
        self.name = String(stem[stem.index(after: underscore)...])
        self.fileName = fileName
        self.sql = sql
        self.checksum = SHA256.hash(data: contents).map { String(format: "%02x", $0) }.joined()
    }

    /// Every `*.sql` file of a directory, in version order; duplicate versions are an error.
    public static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
        let migrations = try names.map { name in
            try Migration(fileName: name, contents: Data(contentsOf: directory.appendingPathComponent(name)))
        }.sorted { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw StorageError.invalidMigrationFile(next.fileName, reason: "version \(next.version) is also used by \(previous.fileName)")
        }
        return migrations
    }

    /// Where the migrations are: `COLPALI_MIGRATIONS_DIR`, else a `migrations/`
    /// folder next to or above the running program (a checkout's
    /// `.build/release/colpali`), else the current directory's, else the
    /// installed `/usr/share/colpali/migrations`.
    public static func locateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var candidates: [URL] = []
        if let explicit = environment["COLPALI_MIGRATIONS_DIR"] {
            candidates.append(URL(fileURLWithPath: explicit))
        } else {
            // The running binary itself (argv[0] is only a name when it was
            // found on PATH).
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments.first ?? "."
            var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                candidates.append(directory.appendingPathComponent("migrations"))
                directory = directory.deletingLastPathComponent()
            }
            candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .appendingPathComponent("migrations"))
            candidates.append(URL(fileURLWithPath: "/usr/share/colpali/migrations"))
        }
        for candidate in candidates {
            let first = candidate.appendingPathComponent("0001_core.sql").path
            if FileManager.default.fileExists(atPath: first) { return candidate.standardizedFileURL }
        }
        throw StorageError.migrationsNotFound(searched: candidates.map(\.path))
    }
}
