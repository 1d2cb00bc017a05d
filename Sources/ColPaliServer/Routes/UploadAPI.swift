import ColPaliSearch
import ColPaliStorage
import Crypto
import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/documents`: a file into the upload directory and onto the
/// ingest queue, for a `colpali-ingest run --allow-root UPLOAD_DIR` daemon;
/// `GET /v1/jobs/{id}` and `GET /v1/queue` to follow it.
struct UploadAPI {
    let client: SearchClient
    /// nil: this server takes no uploads.
    let directory: URL?
    let maximumBytes: Int

    /// What a file must start with to be taken: the ingest pipeline reads
    /// PDF, PNG and JPEG, and anything else would only fail in the queue.
    static func kind(of data: Data) -> String? {
        if data.starts(with: Array("%PDF-".utf8)) { return "pdf" }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "png" }
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpg" }
        return nil
    }

    struct Accepted: Encodable {
        let jobId: Int
        let file: String
        let bytes: Int
        let statusUrl: String
    }

    func upload(_ request: Request, context: ServerContext) async throws -> Response {
        guard let directory else {
            throw APIError(.notImplemented, code: "uploads_disabled", "this server takes no uploads (start it with --upload-dir)")
        }
        let boundary: String
        do {
            boundary = try Multipart.boundary(contentType: request.headers[.contentType])
        } catch {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", "\(error)")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "too_large", "the upload is larger than \(maximumBytes) bytes")
        }
        let form: Multipart
        do {
            form = try Multipart.parse(Data(buffer: buffer), boundary: boundary)
        } catch let error as Multipart.ParseError {
            throw APIError.invalid("\(error)")
        }
        if let unknown = form.parts.first(where: { !["file", "options"].contains($0.name) }) {
            throw APIError.invalid("unknown form field '\(unknown.name)' (known: file, options)")
        }
        guard let file = form.part("file"), file.filename != nil else {
            throw APIError.invalid("the form has no 'file' part with a filename")
        }
        guard !file.body.isEmpty else { throw APIError.invalid("the file is empty") }
        guard let kind = Self.kind(of: file.body) else {
            throw APIError(.unsupportedMediaType, code: "unsupported_type", "the file is not a PDF, PNG or JPEG")
        }
        var options = JobOptions()
        if let part = form.part("options") {
            do {
                options = try JSONDecoder().decode(JobOptions.self, from: part.body)
            } catch let error as JobOptions.InvalidOption {
                throw APIError.invalid("options: \(error)")
            } catch let error as DecodingError {
                throw APIError.invalid("options: \(APIError.describe(error))")
            }
        }
        if let collection = options.collection { _ = try await client.collection(collection) }  // a clear 404 now, not a failed job later
        let name = try Self.store(file.body, originalName: file.filename!, kind: kind, in: directory)
        let job = try await client.enqueue(file: directory.appendingPathComponent(name).path, options: options)
        context.logger.info("upload queued", metadata: ["job": "\(job)", "bytes": "\(file.body.count)",
                                                       "key": "\(context.caller?.keyName ?? "-")"])
        return try JSONBody.response(Accepted(jobId: job, file: name, bytes: file.body.count, statusUrl: "/v1/jobs/\(job)"),
                                     status: .accepted)
    }

    /// Written under a name of the content's hash and a cleaned-up original
    /// name: the client's name never becomes a path, and the same file
    /// uploaded twice is one file. Written to a temporary name first and
    /// renamed, so the daemon never reads half a file.
    static func store(_ data: Data, originalName: String, kind: String, in directory: URL) throws -> String {
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let base = URL(fileURLWithPath: "/" + originalName).deletingPathExtension().lastPathComponent
        let cleaned = String(base.unicodeScalars.map { scalar -> Character in
            CharacterSet.alphanumerics.contains(scalar) && scalar.isASCII || scalar == "-" || scalar == "_" ? Character(scalar) : "_"
        }.prefix(80))
        let name = "\(digest.prefix(16))-\(cleaned.isEmpty ? "upload" : cleaned).\(kind)"
        let target = directory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: target.path) { return name }
        let temporary = directory.appendingPathComponent(".\(name).\(UUID().uuidString).part")
        do {
            try data.write(to: temporary, options: .withoutOverwriting)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: temporary.path)
            if rename(temporary.path, target.path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw APIError(.internalServerError, code: "upload_not_stored", "the upload could not be stored on the server")
        }
        return name
    }

    func job(_ request: Request, context: ServerContext) async throws -> Response {
        try JSONBody.response(try await client.job(id: try context.identifier("id")))
    }

    func queue(_ request: Request, context: ServerContext) async throws -> Response {
        let counts = try await client.queueCounts()
        return try JSONBody.response(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
    }
}
