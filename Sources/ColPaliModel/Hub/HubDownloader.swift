import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Fetches files of a Hub model repository into the Hugging Face cache the
/// way huggingface_hub does: a HEAD on `resolve/<revision>/<file>` for the
/// commit and ETag (the SHA-256 of LFS files, the git blob hash of others),
/// then the bytes into `blobs/<etag>.incomplete` (resumed with a Range request
/// when a previous attempt stopped), verified, renamed into place, linked from
/// the snapshot.
final class HubDownloader: @unchecked Sendable {
    struct FileMetadata {
        var commit: String?
        var etag: String
        var size: Int?
        /// Where the bytes are (the CDN for LFS files), when redirected.
        var location: String?
    }

    let endpoint: String
    let token: String?
    let cache: HubCache
    let progress: (@Sendable (DownloadProgress) -> Void)?
    let logger: Logger
    private let client: HTTPClient

    init(endpoint: String, token: String?, cache: HubCache, progress: (@Sendable (DownloadProgress) -> Void)?, logger: Logger) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.token = token
        self.cache = cache
        self.progress = progress
        self.logger = logger
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(20), read: .seconds(120))
        // A refused or unresolvable Hub is reported at once, not retried until a timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    private func resolveURL(_ repository: String, _ revision: String, _ file: String) -> String {
        let escapedRevision = revision.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? revision
        return "\(endpoint)/\(repository)/resolve/\(escapedRevision)/\(file)"
    }

    private func request(_ url: String, method: HTTPMethod, authorized: Bool, range: Int? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "colpali-pg/1.0")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if authorized, let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let range { request.headers.add(name: "Range", value: "bytes=\(range)-") }
        return request
    }

    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await client.execute(request, timeout: .seconds(120))
        } catch {
            throw HubError.unreachable(endpoint: endpoint, reason: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("Timeout") { return "timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "connection refused"
        }
        if text.contains("dns") || text.contains("DNS") || text.contains("nodename") { return "host name not found" }
        return text
    }

    /// Metadata of a file, or nil when the repository has no such file.
    func metadata(_ repository: String, revision: String, file: String) async throws -> FileMetadata? {
        let url = resolveURL(repository, revision, file)
        let response = try await execute(request(url, method: .HEAD, authorized: true))
        switch response.status.code {
        case 200, 206, 301, 302, 303, 307, 308:
            break
        case 404:
            // A repository that does not exist also answers 404 (or 401).
            return nil
        case 401, 403:
            throw HubError.unauthorized(model: repository, status: Int(response.status.code))
        default:
            throw HubError.httpStatus(model: repository, file: file, status: Int(response.status.code))
        }
        let headers = response.headers
        let rawEtag = headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag") ?? ""
        let etag = rawEtag.replacingOccurrences(of: "W/", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard !etag.isEmpty else { throw HubError.httpStatus(model: repository, file: file, status: Int(response.status.code)) }
        var location: String?
        if (300..<400).contains(response.status.code), let target = headers.first(name: "Location") {
            location = target.hasPrefix("http") ? target : URL(string: target, relativeTo: URL(string: url))?.absoluteString
        }
        let size = (headers.first(name: "X-Linked-Size") ?? headers.first(name: "Content-Length")).flatMap(Int.init)
        return FileMetadata(commit: headers.first(name: "X-Repo-Commit"), etag: etag, size: size, location: location)
    }

    /// Downloads one file into the cache and links it into the snapshot.
    func download(_ repository: String, revision: String, commit: String, file: String, metadata: FileMetadata) async throws {
        let blob = cache.blob(repository, etag: metadata.etag)
        let manager = FileManager.default
        if !manager.fileExists(atPath: blob.path) {
            try manager.createDirectory(at: blob.deletingLastPathComponent(), withIntermediateDirectories: true)
            let partial = URL(fileURLWithPath: blob.path + ".incomplete")
            try await fetch(repository, revision: revision, file: file, metadata: metadata, into: partial)
            try manager.moveItem(at: partial, to: blob)
        }
        try cache.link(repository, commit: commit, file: file, etag: metadata.etag)
    }

    private func fetch(_ repository: String, revision: String, file: String, metadata: FileMetadata, into partial: URL) async throws {
        let manager = FileManager.default
        var verifier = Verifier(etag: metadata.etag, size: metadata.size)
        var offset = 0
        if manager.fileExists(atPath: partial.path) {
            offset = ((try? manager.attributesOfItem(atPath: partial.path)[.size]) as? NSNumber)?.intValue ?? 0
        } else {
            _ = manager.createFile(atPath: partial.path, contents: nil)
        }
        if offset > 0 {
            // Resume: the bytes already there count toward the checksum.
            let existing = try FileHandle(forReadingFrom: partial)
            while let chunk = try existing.read(upToCount: 8 << 20), !chunk.isEmpty { verifier.update(chunk) }
            try existing.close()
        }
        let source = metadata.location ?? resolveURL(repository, revision, file)
        let sameHost = URL(string: source)?.host == URL(string: endpoint)?.host
        let response = try await execute(request(source, method: .GET, authorized: sameHost, range: offset > 0 ? offset : nil))
        let handle = try FileHandle(forWritingTo: partial)
        defer { try? handle.close() }
        switch response.status.code {
        case 206:
            try handle.seekToEnd()
        case 200:
            // The server ignored the range: start over.
            try handle.truncate(atOffset: 0)
            offset = 0
            verifier = Verifier(etag: metadata.etag, size: metadata.size)
        case 401, 403:
            throw HubError.unauthorized(model: repository, status: Int(response.status.code))
        case 404:
            throw HubError.notFound(model: repository, file: file)
        default:
            throw HubError.httpStatus(model: repository, file: file, status: Int(response.status.code))
        }
        let name = "\(repository)/\(file)"
        var received = offset
        do {
            for try await buffer in response.body {
                let data = Data(buffer.readableBytesView)
                try handle.write(contentsOf: data)
                verifier.update(data)
                received += data.count
                progress?(DownloadProgress(file: name, bytes: received, total: metadata.size, finished: false))
            }
        } catch {
            throw HubError.unreachable(endpoint: endpoint, reason: "download interrupted: \(Self.describe(error))")
        }
        progress?(DownloadProgress(file: name, bytes: received, total: metadata.size, finished: true))
        if let size = metadata.size, received != size {
            throw HubError.incompleteDownload(file: file, expected: size, received: received)
        }
        if let mismatch = verifier.mismatch() {
            try? manager.removeItem(at: partial)
            throw HubError.checksumMismatch(file: file, expected: metadata.etag, actual: mismatch)
        }
    }

    /// Checks the bytes against the ETag: SHA-256 for LFS files, the git
    /// blob SHA-1 (`blob <size>\0` + bytes) for files stored in git.
    struct Verifier {
        private var sha256 = SHA256()
        private var gitBlob: Insecure.SHA1?
        private let etag: String

        init(etag: String, size: Int?) {
            self.etag = etag.lowercased()
            if self.etag.count == 40, let size {
                var sha1 = Insecure.SHA1()
                sha1.update(data: Data("blob \(size)\0".utf8))
                gitBlob = sha1
            }
        }

        mutating func update(_ data: Data) {
            if etag.count == 64 { sha256.update(data: data) }
            gitBlob?.update(data: data)
        }

        /// The actual digest when it differs from the expected one; nil when
        /// it matches or the ETag is not a digest we know.
        func mismatch() -> String? {
            let actual: String
            if etag.count == 64 {
                actual = sha256.finalize().map { String(format: "%02x", $0) }.joined()
            } else if let gitBlob {
                actual = gitBlob.finalize().map { String(format: "%02x", $0) }.joined()
            } else {
                return nil
            }
            return actual == etag ? nil : actual
        }
    }
}
