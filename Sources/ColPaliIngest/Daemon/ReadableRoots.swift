import ColPaliStorage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The directories a daemon may read queued files from: its watched
/// directories and every `--allow-root`. Anyone who can insert into
/// `ingest_jobs` names a path; the daemon reads it only if, with symbolic
/// links and `..` resolved, it lies under one of these. The file is then
/// opened component by component from the root without following links, so
/// a link swapped in after the check cannot lead outside either.
public struct ReadableRoots: Sendable, Equatable {
    /// Canonical absolute paths (resolved when the daemon starts).
    public let directories: [String]

    public enum RootError: Error, CustomStringConvertible, Sendable {
        case unusable(String, reason: String)
        public var description: String {
            switch self {
            case .unusable(let path, let reason): return "allowed root \(path) cannot be used: \(reason)"
            }
        }
    }

    public init(_ paths: [String]) throws {
        var resolved: [String] = []
        for path in paths {
            guard let canonical = realpath(path, nil) else {
                throw RootError.unusable(path, reason: FileReader.reason(errno, path: path))
            }
            defer { free(canonical) }
            let directory = String(cString: canonical)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RootError.unusable(path, reason: "not a directory")
            }
            if !resolved.contains(directory) { resolved.append(directory) }
        }
        directories = resolved
    }

    /// The root that holds `path` and the components below it, or nil.
    private func locate(_ path: String) -> (root: String, components: [String])? {
        for root in directories {
            let prefix = root == "/" ? "/" : root + "/"
            guard path.hasPrefix(prefix) else { continue }
            let components = path.dropFirst(prefix.count).split(separator: "/").map(String.init)
            if !components.isEmpty { return (root, components) }
        }
        return nil
    }

    /// The file at `path` (a queued job's source), read if it lies under a
    /// root. A refusal says only that the path is outside: whether such a
    /// file exists, or where a link points, is not told.
    public func read(_ path: String) throws -> SourceFile {
        let refused = SourceFile.ReadError.refused(path, allowed: directories)
        guard path.hasPrefix("/") else { throw refused }
        guard let canonical = realpath(path, nil) else {
            let code = errno
            // Report why only for paths that are inside by their spelling.
            guard locate(URL(fileURLWithPath: path).standardizedFileURL.path) != nil else { throw refused }
            throw SourceFile.ReadError.unreadable(path, reason: FileReader.reason(code, path: path))
        }
        let resolved = String(cString: canonical)
        free(canonical)
        guard let (root, components) = locate(resolved) else { throw refused }

        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SourceFile.ReadError.unreadable(path, reason: FileReader.reason(errno, path: path)) }
        defer { close(fd) }
        for (index, component) in components.enumerated() {
            let last = index == components.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY)
            let next = openat(fd, component, flags)
            guard next >= 0 else {
                let code = errno
                // ELOOP here: a link appeared after the check.
                throw code == ELOOP ? refused : SourceFile.ReadError.unreadable(path, reason: FileReader.reason(code, path: path))
            }
            close(fd)
            fd = next
        }
        return try SourceFile(path: path, data: FileReader.read(descriptor: fd, path: path))
    }
}
