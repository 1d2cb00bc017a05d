import ColPaliCore
import ColPaliIngest
import ColPaliSearch
import ColPaliStorage
import Crypto
import Foundation
import Hummingbird
import NIOCore
import PostgresNIO

/// `POST /v1/documents`: a file into the upload directory and onto the
/// ingest queue, for a `colpali-ingest run --allow-root UPLOAD_DIR` daemon;
/// `GET /v1/jobs/{id}` and `GET /v1/queue` to follow it. With an
/// `embeddings` part (vectors computed elsewhere) the document is imported
/// at once instead, no model run.
struct UploadAPI {
    let client: SearchClient
    let database: PostgresClient
    /// nil: this server takes no uploads.
    let directory: URL?
    let maximumBytes: Int

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
        let form = try await UploadForm.read(request, boundary: boundary, maximumBytes: maximumBytes, directory: directory)
        defer { form.discard() }
        if form.embeddings == nil, let stray = Self.importFields.first(where: { form.partNames.contains($0) }) {
            throw APIError.invalid("'\(stray)' applies to an import: send it with an 'embeddings' part")
        }
        guard let (file, filename) = form.file else {
            throw APIError.invalid("the form has no 'file' part with a filename")
        }
        let digest = try file.finish()
        guard file.count > 0 else { throw APIError.invalid("the file is empty") }
        // Ingest's own sniffing, by content alone (no leniency for a client's
        // ".pdf" name): what would only fail in the queue is refused now.
        guard let kind = SourceFile.kind(of: file.head, path: "") else {
            throw APIError(.unsupportedMediaType, code: "unsupported_type", "the file is not a PDF, PNG or JPEG")
        }
        var options = JobOptions()
        if let part = form.field("options") {
            do {
                options = try JSONDecoder().decode(JobOptions.self, from: part)
            } catch let error as JobOptions.InvalidOption {
                throw APIError.invalid("options: \(error)")
            } catch let error as DecodingError {
                throw APIError.invalid("options: \(APIError.describe(error))")
            }
        }
        // Queued uploads go to existing collections: a misspelt name is a 404
        // now (and no file kept), not a new collection the daemon would make.
        if form.embeddings == nil, let collection = options.collection { _ = try await client.collection(collection) }
        let name = try Self.store(file.url, digest: digest, originalName: filename, kind: kind == .jpeg ? "jpg" : kind.rawValue,
                                  in: directory)
        if let embeddings = form.embeddings {
            _ = try embeddings.finish()
            return try await importDocument(directory.appendingPathComponent(name), embeddings: embeddings.url, form: form,
                                            options: options, context: context)
        }
        let job = try await client.enqueue(file: directory.appendingPathComponent(name).path, options: options)
        context.logger.info("upload queued", metadata: ["job": "\(job)", "bytes": "\(file.count)",
                                                       "key": "\(context.caller?.keyName ?? "-")"])
        return try JSONBody.response(Accepted(jobId: job, file: name, bytes: file.count, statusUrl: "/v1/jobs/\(job)"),
                                     status: .accepted)
    }

    /// Moved into place under a name of the content's hash and a cleaned-up
    /// original name: the client's name never becomes a path, and the same
    /// file uploaded twice is one file. `staged` is a complete file in the
    /// same directory, so the rename is atomic: the daemon never reads half
    /// a file. (A staged file not moved is discarded with its form.)
    static func store(_ staged: URL, digest: SHA256.Digest, originalName: String, kind: String, in directory: URL) throws -> String {
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let base = URL(fileURLWithPath: "/" + originalName).deletingPathExtension().lastPathComponent
        let cleaned = String(base.unicodeScalars.map { scalar -> Character in
            CharacterSet.alphanumerics.contains(scalar) && scalar.isASCII || scalar == "-" || scalar == "_" ? Character(scalar) : "_"
        }.prefix(80))
        let name = "\(hex.prefix(16))-\(cleaned.isEmpty ? "upload" : cleaned).\(kind)"
        let target = directory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: target.path) { return name }
        guard rename(staged.path, target.path) == 0 else {
            throw APIError(.internalServerError, code: "upload_not_stored", "the upload could not be stored on the server")
        }
        return name
    }

    static let importFields = ["embeddings", "model", "prompt_format", "patch_grid"]
    static let fields = ["file", "options"] + importFields

    struct Imported: Encodable {
        let documentId: Int
        let pages: Int
        let outcome: String
    }

    /// The document with its vectors, stored now (201), as
    /// `colpali-ingest import` stores it.
    func importDocument(_ path: URL, embeddings: URL, form: UploadForm, options: JobOptions,
                        context: ServerContext) async throws -> Response {
        func text(_ name: String) throws -> String? {
            guard let part = form.field(name) else { return nil }
            guard let value = String(data: part, encoding: .utf8) else { throw APIError.invalid("\(name) is not UTF-8 text") }
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let format = try text("prompt_format").map { name -> PromptFormat in
            guard let format = PromptFormat(rawValue: name) else { throw APIError.invalid("unknown prompt_format '\(name)'") }
            return format
        } ?? .transformers
        let grid = try text("patch_grid").map { value -> Int in
            guard let grid = Int(value), (1...256).contains(grid) else { throw APIError.invalid("patch_grid must be an integer from 1 to 256") }
            return grid
        } ?? Importer.defaultPatchGrid
        let vectors: EmbeddingFile
        do {
            vectors = try EmbeddingFile.read(contentsOf: embeddings)
        } catch let error as EmbeddingFile.ReadError {
            throw APIError.invalid("embeddings: \(error)")
        }
        guard let model = try text("model") ?? vectors.modelName else {
            throw APIError.invalid("name the model that computed the embeddings in a 'model' part")
        }
        let ingestOptions: IngestOptions
        do {
            ingestOptions = try IngestOptions().applying(options)
        } catch let error as IngestOptions.OptionError {
            throw APIError.invalid("options: \(error)")
        }
        let outcome: IngestOutcome
        do {
            let source = try SourceFile(path: path.path)
            outcome = try await Importer(client: database, logger: context.logger).importDocument(
                source, embeddings: vectors, modelName: model, promptFormat: format, patchGrid: grid, options: ingestOptions)
        } catch let error as Importer.ImportError {
            throw APIError(.unprocessableContent, code: "import_refused", "\(error)")
        } catch let error where error is PDFError || error is SourceFile.ReadError {
            throw APIError(.unprocessableContent, code: "unreadable_document", "\(error)")
        }
        context.logger.info("imported", metadata: ["outcome": "\(outcome)", "key": "\(context.caller?.keyName ?? "-")"])
        switch outcome {
        case .stored(let id, let pages):
            return try JSONBody.response(Imported(documentId: id, pages: pages, outcome: outcome.description), status: .created)
        case .addedPages(let id, let pages):
            return try JSONBody.response(Imported(documentId: id, pages: pages.count, outcome: outcome.description), status: .created)
        case .alreadyStored(let id), .updated(let id):
            return try JSONBody.response(Imported(documentId: id, pages: 0, outcome: outcome.description))
        case .failed(_, let reason):
            throw APIError(.unprocessableContent, code: "unreadable_document", reason)
        }
    }

    func job(_ request: Request, context: ServerContext) async throws -> Response {
        try JSONBody.response(JobJSON(job: try await client.job(id: try context.identifier("id"))))
    }

    /// A job as the API writes it: every field present, null where empty.
    struct JobJSON: Encodable {
        let job: IngestJobStatus
        enum CodingKeys: String, CodingKey { case id, state, attempts, documentId, error, enqueuedAt, finishedAt }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(job.id, forKey: .id)
            try c.encode(job.state, forKey: .state)
            try c.encode(job.attempts, forKey: .attempts)
            try c.encode(job.documentID, forKey: .documentId)
            try c.encode(job.error, forKey: .error)
            try c.encode(job.enqueuedAt, forKey: .enqueuedAt)
            try c.encode(job.finishedAt, forKey: .finishedAt)
        }
    }

    func queue(_ request: Request, context: ServerContext) async throws -> Response {
        let counts = try await client.queueCounts()
        return try JSONBody.response(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
    }
}
