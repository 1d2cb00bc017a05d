import Foundation

/// The files the server serves as they are (the OpenAPI document, the
/// search page), found without `Bundle.module`, which ends the process when
/// its bundle is not where the build left it (a binary copied elsewhere).
///
/// Looked for, in order: `$COLPALI_SERVER_RESOURCES`; the bundle SwiftPM
/// writes beside the executable (`colpali-pg_ColPaliServer.resources`, to be
/// installed with it); the source tree this binary was built from.
enum ServerResources {
    static let bundleName = "colpali-pg_ColPaliServer.resources"

    static let directory: URL? = {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["COLPALI_SERVER_RESOURCES"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundleName).appendingPathComponent("Resources"))
        // Test runners live in a bundle below the build directory.
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(bundleName).appendingPathComponent("Resources"))
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Resources"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("openapi.json").path) }
    }()

    /// A file's bytes, or nil when the resources are not installed.
    static func data(_ path: String) -> Data? {
        directory.flatMap { try? Data(contentsOf: $0.appendingPathComponent(path)) }
    }

    static var missing: APIError {
        APIError(.internalServerError, code: "resources_missing",
                 "this server's files are missing: install \(bundleName) beside the colpali binary, or set COLPALI_SERVER_RESOURCES")
    }
}
