import ColPaliStorage
import Foundation

/// The committed tiny ColPali fixtures (scripts/fixtures/README.md says what each holds).
public enum Fixtures {
    public static var root: URL { RepositoryPaths.fixtures }
    public static func model(_ name: String) -> URL { root.appendingPathComponent("models/\(name)") }
    public static func reference(_ name: String) -> URL { root.appendingPathComponent("reference/\(name)") }
    public static func image(_ name: String) -> URL { root.appendingPathComponent("images/\(name)") }
    public static var tokenizer: URL { root.appendingPathComponent("tokenizer/tokenizer.json") }

    /// A Hugging Face cache under a new temporary directory holding `models`
    /// (repository id -> fixture directory) as snapshots at `commit`, like a
    /// cache Python filled. Returns the cache root.
    public static func hubCache(with models: [String: URL], commit: String = String(repeating: "ab", count: 20)) throws -> URL {
        let root = try RepositoryPaths.temporaryDirectory("colpali-hf-cache")
        let manager = FileManager.default
        for (repository, source) in models {
            let repo = root.appendingPathComponent("models--" + repository.replacingOccurrences(of: "/", with: "--"))
            let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
            try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
            try manager.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
            try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
            for file in try manager.contentsOfDirectory(atPath: source.path) {
                try manager.createSymbolicLink(at: snapshot.appendingPathComponent(file),
                                               withDestinationURL: source.appendingPathComponent(file))
            }
        }
        return root
    }
}

extension Fixtures {
    /// The environment of a `colpali` or `colpali-ingest` child process run
    /// against `settings`: the tiny model, offline, this checkout's
    /// migrations, one model thread.
    public static func commandEnvironment(_ settings: ConnectionSettings) -> [String: String] {
        ["DATABASE_URL": TestPostgres.url(of: settings), "COLPALI_MODEL": model("hf-fp32").path,
         "HF_HUB_OFFLINE": "1", "COLPALI_MIGRATIONS_DIR": RepositoryPaths.migrations.path, "COLPALI_THREADS": "1"]
    }
}
