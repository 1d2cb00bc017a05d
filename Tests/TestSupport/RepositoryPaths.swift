import Foundation

/// Paths inside the checkout, found from this file's location, so tests run
/// the same from any working directory.
public enum RepositoryPaths {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    public static var migrations: URL { root.appendingPathComponent("migrations") }
    public static var fixtures: URL { root.appendingPathComponent("Tests/Fixtures") }

    /// A built executable of this package (`colpali`, `colpali-ingest`), next
    /// to the test bundle in .build/<configuration>/.
    public static func executable(_ name: String) -> URL {
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/\(name)")
    }

    /// A new empty directory under /tmp (reachable by the server account when
    /// tests run as root), removed by the caller or left for inspection.
    public static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = URL(fileURLWithPath: "/tmp/\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        return url
    }
}
