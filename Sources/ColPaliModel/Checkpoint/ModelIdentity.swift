import Crypto
import Foundation

/// What a model is, by content: `sha256:` of the SHA-256 of every file that
/// decides its outputs (configuration, tokenizer, processor settings,
/// weights, and an adapter's base), by name. The same weights copied to
/// another directory, or reached through another Hub revision with the same
/// files, are the same model; a collection records this, so moving a
/// checkout orphans nothing.
///
/// Hub snapshots link their weights to blobs named by their SHA-256 (the
/// Hub's LFS identity), so no weight is read to name them. Other files are
/// hashed once and remembered by path, size and modification time in
/// `~/.cache/colpali/model-files.json` (a 6 GB checkpoint takes seconds).
package enum ModelIdentity {
    /// Files that decide what the model computes, where present.
    static let decisive = ["config.json", "adapter_config.json", "tokenizer.json", "tokenizer_config.json",
                           "processor_config.json", "preprocessor_config.json", "special_tokens_map.json"]

    package static func of(directories: [URL], cache: URL = defaultCache) throws -> String {
        var lines: [String] = []
        var remembered = FileDigestCache(url: cache)
        for (index, directory) in directories.enumerated() {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { decisive.contains($0) || $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" }
                .sorted()
            for name in names {
                let url = directory.appendingPathComponent(name)
                lines.append("\(index)/\(name) \(try remembered.digest(of: url))")
            }
        }
        remembered.save()
        return "sha256:" + hex(SHA256.hash(data: Data(lines.joined(separator: "\n").utf8)))
    }

    package static var defaultCache: URL {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : nil }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("colpali/model-files.json")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// SHA-256 of files, remembered by path, size and modification time.
struct FileDigestCache {
    struct Entry: Codable {
        var size: Int
        var modified: Double
        var sha256: String
    }

    let url: URL
    var entries: [String: Entry]
    var changed = false

    init(url: URL) {
        self.url = url
        entries = (try? JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: url))) ?? [:]
    }

    mutating func digest(of file: URL) throws -> String {
        // A Hub blob is named by its SHA-256 already.
        let target = file.resolvingSymlinksInPath()
        let blobName = target.lastPathComponent
        if target.deletingLastPathComponent().lastPathComponent == "blobs", blobName.count == 64,
           blobName.allSatisfy(\.isHexDigit) {
            return blobName
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: target.path)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        if let known = entries[target.path], known.size == size, known.modified == modified { return known.sha256 }
        var hasher = SHA256()
        let handle = try FileHandle(forReadingFrom: target)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 24), !chunk.isEmpty { hasher.update(data: chunk) }
        let digest = ModelIdentity.hex(hasher.finalize())
        entries[target.path] = Entry(size: size, modified: modified, sha256: digest)
        changed = true
        return digest
    }

    /// Best effort: an unwritable cache only costs hashing again next time.
    func save() {
        guard changed, let data = try? JSONEncoder().encode(entries) else { return }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: url, options: .atomic)
    }
}
