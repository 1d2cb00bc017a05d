import ColPaliStorage
import Crypto
import Foundation

/// A file handed to ingest: its bytes, what kind of document they are, and
/// their SHA-256 (the document's identity).
public struct SourceFile: Sendable {
    public enum Kind: String, Sendable {
        case pdf, png, jpeg
    }

    public let path: String
    public let data: Data
    public let contentHash: Data

    /// The largest file ingest reads (a scanned book is a few hundred MB).
    public static let maximumBytes = 1 << 30

    public enum ReadError: Error, CustomStringConvertible, Sendable, Equatable {
        case unreadable(String, reason: String)
        case unsupported(String)
        case tooLarge(String, bytes: Int, limit: Int)
        /// A queued path outside the directories the daemon may read.
        case refused(String, allowed: [String])

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
            case .unsupported(let path): return "\(path) is not a PDF, PNG or JPEG file"
            case .tooLarge(let path, let bytes, let limit):
                return "\(path) is \(bytes) bytes, more than the limit of \(limit) bytes"
            case .refused(let path, let allowed):
                return allowed.isEmpty
                    ? "refused \(path): this daemon may read no directory (it has no --watch or --allow-root)"
                    : "refused \(path): it is outside the directories this daemon may read (\(allowed.joined(separator: ", ")))"
            }
        }
    }

    /// File types ingest accepts when it walks a directory.
    public static let extensions: Set<String> = ["pdf", "png", "jpg", "jpeg"]

    /// Reads the regular file at `path` (a path the user gave: links are followed).
    public init(path: String) throws {
        try self.init(path: path, data: FileReader.read(path: path))
    }

    /// Content already read (e.g. through ReadableRoots).
    public init(path: String, data: Data) {
        self.path = path
        self.data = data
        contentHash = Data(SHA256.hash(data: data))
    }

    /// PDF by its header; PNG and JPEG by their signatures. A file named .pdf
    /// that is not one is a PDF error (so it is recorded as a failed PDF);
    /// any other file is a PDF only when it starts with the header (a script
    /// that merely mentions "%PDF-" is not a damaged PDF).
    public var kind: Kind? { Self.kind(of: data, path: path) }

    public static func kind(of data: Data, path: String) -> Kind? {
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if data.starts(with: [0xFF, 0xD8]) { return .jpeg }
        if data.starts(with: Array("%PDF-".utf8)) { return .pdf }
        // Readers accept junk before the header of a file that claims to be a PDF.
        guard path.lowercased().hasSuffix(".pdf") else { return nil }
        return .pdf
    }

    public var uri: String { SourceURI.of(path: path) }

    /// Files under the given paths that ingest handles, sorted; paths that are
    /// files are kept whatever their extension (ingest then says what is wrong).
    public static func expand(_ paths: [String]) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let enumerator = FileManager.default.enumerator(atPath: path)
                var found: [String] = []
                while let entry = enumerator?.nextObject() as? String {
                    let ext = (entry as NSString).pathExtension.lowercased()
                    if extensions.contains(ext) { found.append((path as NSString).appendingPathComponent(entry)) }
                }
                files += found.sorted()
            } else {
                files.append(path)
            }
        }
        return files
    }
}
