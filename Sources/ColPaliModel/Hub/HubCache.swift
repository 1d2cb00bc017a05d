import Foundation

/// The standard Hugging Face cache, shared with Python:
/// `$HF_HUB_CACHE` (default `$HF_HOME/hub`, default `~/.cache/huggingface/hub`)
/// / `models--ORG--NAME` / {`blobs/<etag>`, `refs/<revision>`,
/// `snapshots/<commit>/<file>` -> `../../blobs/<etag>`}.
package struct HubCache: Sendable {
    package let root: URL

    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let hubCache = environment["HF_HUB_CACHE"] ?? environment["HUGGINGFACE_HUB_CACHE"], !hubCache.isEmpty {
            root = URL(fileURLWithPath: (hubCache as NSString).expandingTildeInPath)
        } else if let home = environment["HF_HOME"], !home.isEmpty {
            root = URL(fileURLWithPath: (home as NSString).expandingTildeInPath).appendingPathComponent("hub")
        } else {
            let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
            root = base.appendingPathComponent("huggingface/hub")
        }
    }

    package init(root: URL) { self.root = root }

    package func repositoryDirectory(_ repository: String) -> URL {
        root.appendingPathComponent("models--" + repository.replacingOccurrences(of: "/", with: "--"))
    }

    static func isCommitHash(_ revision: String) -> Bool {
        revision.count == 40 && revision.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The commit a revision points at in the cache, if known.
    package func commit(_ repository: String, revision: String) -> String? {
        if Self.isCommitHash(revision) { return revision }
        let ref = repositoryDirectory(repository).appendingPathComponent("refs/\(revision)")
        return (try? String(contentsOf: ref, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    package func snapshotDirectory(_ repository: String, commit: String) -> URL {
        repositoryDirectory(repository).appendingPathComponent("snapshots/\(commit)")
    }

    func blob(_ repository: String, etag: String) -> URL {
        repositoryDirectory(repository).appendingPathComponent("blobs/\(etag)")
    }

    func recordRef(_ repository: String, revision: String, commit: String) throws {
        guard !Self.isCommitHash(revision) else { return }
        let ref = repositoryDirectory(repository).appendingPathComponent("refs/\(revision)")
        try FileManager.default.createDirectory(at: ref.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: ref, options: .atomic)
    }

    /// Points `snapshots/<commit>/<file>` at its blob, as huggingface_hub does.
    func link(_ repository: String, commit: String, file: String, etag: String) throws {
        let target = snapshotDirectory(repository, commit: commit).appendingPathComponent(file)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let depth = file.split(separator: "/").count + 1
        let relative = String(repeating: "../", count: depth) + "blobs/\(etag)"
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.createSymbolicLink(atPath: target.path, withDestinationPath: relative)
    }
}
