import Foundation
import Hummingbird
import NIOCore

/// The form of an upload (`POST /v1/documents`), read as it arrives: the
/// document to a staging file in the upload directory (renamed into place
/// once accepted, so the ingest daemon never sees half a file), embeddings
/// to a hidden staging file beside it (no watcher takes .npy files), the
/// small fields in memory. Memory stays a few chunks whatever the upload's
/// size; `discard` removes whatever was staged and not moved. (Embeddings
/// used to go to the system's temporary directory, where no test could see
/// whether they were removed.)
final class UploadForm {
    /// The largest small field (`options`, `model`, ...).
    static let fieldLimit = 64 * 1024

    /// The document, with the name the client gave it.
    private(set) var file: (sink: FileSink, name: String)?
    private(set) var embeddings: FileSink?
    private var fields: [String: MemorySink] = [:]
    /// The part names the form holds.
    private(set) var partNames: Set<String> = []
    private var staged: [URL] = []

    /// A small field's bytes.
    func field(_ name: String) -> Data? { fields[name]?.data }

    /// The body read to its end: an APIError for anything wrong with it,
    /// with nothing left behind.
    static func read(_ request: Request, boundary: String, maximumBytes: Int, directory: URL) async throws -> UploadForm {
        let form = UploadForm()
        do {
            var reader = MultipartReader(boundary: boundary, open: { try form.open($0, directory: directory) })
            var received = 0
            for try await chunk in request.body {
                received += chunk.readableBytes
                guard received <= maximumBytes else {
                    throw APIError(.contentTooLarge, code: "too_large", "the upload is larger than \(maximumBytes) bytes")
                }
                try reader.consume(chunk.readableBytesView)
            }
            try reader.finish()
        } catch let error as Multipart.ParseError {
            form.discard()
            throw APIError.invalid("\(error)")
        } catch {
            form.discard()
            throw error
        }
        return form
    }

    private func open(_ headers: MultipartReader.Headers, directory: URL) throws -> any MultipartSink {
        guard UploadAPI.fields.contains(headers.name) else {
            throw APIError.invalid("unknown form field '\(headers.name)' (known: \(UploadAPI.fields.joined(separator: ", ")))")
        }
        guard partNames.insert(headers.name).inserted else { throw APIError.invalid("the form has more than one '\(headers.name)' part") }
        switch headers.name {
        case "file":
            guard let filename = headers.filename else { throw APIError.invalid("the form has no 'file' part with a filename") }
            let sink = try stage(directory.appendingPathComponent(".upload-\(UUID().uuidString).part"))
            file = (sink, filename)
            return sink
        case "embeddings":
            // The reader maps the file and goes by its extension.
            let ext = URL(fileURLWithPath: "/" + (headers.filename ?? "")).pathExtension.lowercased()
            guard ["npy", "npz", "safetensors"].contains(ext) else {
                throw APIError(.unsupportedMediaType, code: "unsupported_type", "embeddings must be a .npy, .npz or .safetensors file")
            }
            let sink = try stage(directory.appendingPathComponent(".upload-\(UUID().uuidString).\(ext)"))
            embeddings = sink
            return sink
        default:
            let sink = MemorySink(limit: Self.fieldLimit) { [name = headers.name] in
                APIError(.contentTooLarge, code: "too_large", "the '\(name)' field is larger than \(Self.fieldLimit) bytes")
            }
            fields[headers.name] = sink
            return sink
        }
    }

    private func stage(_ url: URL) throws -> FileSink {
        do {
            let sink = try FileSink(url: url)
            staged.append(url)
            return sink
        } catch {
            throw APIError(.internalServerError, code: "upload_not_stored", "the upload could not be stored on the server")
        }
    }

    /// Removes every staged file still where it was written.
    func discard() {
        for url in staged { try? FileManager.default.removeItem(at: url) }
        staged = []
    }
}
