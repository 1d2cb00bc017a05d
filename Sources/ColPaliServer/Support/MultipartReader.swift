import Crypto
import Foundation

/// Where the bytes of one part of a multipart body go as they arrive.
protocol MultipartSink: AnyObject {
    func write(_ bytes: ArraySlice<UInt8>) throws
}

/// A multipart/form-data body (RFC 7578) read as it arrives: each part's
/// bytes go to a sink chosen from its headers as soon as they are read, so
/// an upload is never whole in memory. Between chunks the reader keeps only
/// what may still be the start of a boundary or of a part's headers.
struct MultipartReader {
    struct Headers: Equatable {
        let name: String
        let filename: String?
        let contentType: String?
    }

    private enum State { case preamble, afterDelimiter, headers, body, done }

    private var state = State.preamble
    private var pending: [UInt8] = []
    private let delimiter: [UInt8]
    /// A part's body ends at CRLF and the next delimiter.
    private let bodyEnd: [UInt8]
    private var parts = 0
    private var current: (headers: Headers, sink: any MultipartSink)?
    /// Called with each part's headers: where its bytes go (or an error
    /// that refuses the part, and the body).
    private let open: (Headers) throws -> any MultipartSink
    /// Called once a part's last byte is written.
    private let close: (Headers, any MultipartSink) throws -> Void

    init(boundary: String, open: @escaping (Headers) throws -> any MultipartSink,
         close: @escaping (Headers, any MultipartSink) throws -> Void = { _, _ in }) {
        delimiter = Array("--\(boundary)".utf8)
        bodyEnd = [13, 10] + delimiter
        self.open = open
        self.close = close
    }

    /// Bytes held back between chunks: at most a boundary line, or a part's
    /// headers while they arrive.
    var bufferedBytes: Int { pending.count }

    /// The next bytes of the body, of any length.
    mutating func consume(_ bytes: some Sequence<UInt8>) throws {
        pending.append(contentsOf: bytes)
        var position = 0
        parsing: while true {
            switch state {
            case .preamble:
                guard let start = Multipart.find(delimiter, in: pending, from: position) else {
                    position = max(position, pending.count - delimiter.count + 1)
                    break parsing
                }
                position = start + delimiter.count
                state = .afterDelimiter
            case .afterDelimiter:
                guard pending.count - position >= 2 else { break parsing }
                // "--" after a delimiter closes the body; what follows is ignored.
                if pending[position] == 45, pending[position + 1] == 45 {
                    state = .done
                    continue parsing
                }
                guard pending[position] == 13, pending[position + 1] == 10 else {
                    throw Multipart.ParseError.malformed("a boundary line does not end with CRLF")
                }
                position += 2
                state = .headers
            case .headers:
                guard let end = Multipart.find([13, 10, 13, 10], in: pending, from: position, limit: Multipart.maximumHeaderBytes) else {
                    if pending.count - position >= Multipart.maximumHeaderBytes + 4 { throw Self.headersDoNotEnd }
                    break parsing
                }
                let headers = try Multipart.parseHeaders(pending[position..<end])
                guard parts < Multipart.maximumParts else { throw Multipart.ParseError.tooManyParts(Multipart.maximumParts) }
                parts += 1
                current = (headers, try open(headers))
                position = end + 4
                state = .body
            case .body:
                guard let (headers, sink) = current else { preconditionFailure("a part's body without its headers") }
                guard let end = Multipart.find(bodyEnd, in: pending, from: position) else {
                    let safe = max(position, pending.count - bodyEnd.count + 1)
                    try sink.write(pending[position..<safe])
                    position = safe
                    break parsing
                }
                try sink.write(pending[position..<end])
                try close(headers, sink)
                current = nil
                position = end + bodyEnd.count
                state = .afterDelimiter
            case .done:
                position = pending.count
                break parsing
            }
        }
        pending.removeFirst(position)
    }

    /// The body has ended: an error unless it closed properly.
    func finish() throws {
        switch state {
        case .done: return
        case .preamble: throw Multipart.ParseError.malformed("no boundary line")
        case .afterDelimiter: throw Multipart.ParseError.malformed("a boundary line does not end with CRLF")
        case .headers: throw Self.headersDoNotEnd
        case .body: throw Multipart.ParseError.malformed("the body ends inside a part (no closing boundary)")
        }
    }

    static let headersDoNotEnd = Multipart.ParseError.malformed(
        "a part's headers do not end (or exceed \(Multipart.maximumHeaderBytes) bytes)")
}

/// A part kept in memory, up to a limit.
final class MemorySink: MultipartSink {
    private(set) var data = Data()
    let limit: Int
    let exceeded: () -> any Error

    init(limit: Int, exceeded: @escaping () -> any Error) {
        self.limit = limit
        self.exceeded = exceeded
    }

    func write(_ bytes: ArraySlice<UInt8>) throws {
        guard data.count + bytes.count <= limit else { throw exceeded() }
        data.append(contentsOf: bytes)
    }
}

/// A part written to a new file as it arrives, hashed on the way, with its
/// first bytes kept to tell what it is.
final class FileSink: MultipartSink {
    let url: URL
    private let handle: FileHandle
    private var closed = false
    private var hasher = SHA256()
    private(set) var count = 0
    private(set) var head = Data()

    /// A new file at `url`, readable by its owner and group only; an error if
    /// something is there.
    init(url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        self.url = url
        self.handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
    }

    func write(_ bytes: ArraySlice<UInt8>) throws {
        guard !bytes.isEmpty else { return }
        if head.count < 16 { head.append(contentsOf: bytes.prefix(16 - head.count)) }
        hasher.update(data: bytes)
        try bytes.withUnsafeBytes { try handle.write(contentsOf: $0) }
        count += bytes.count
    }

    /// The SHA-256 of everything written, and the file closed.
    func finish() throws -> SHA256.Digest {
        closed = true
        try handle.close()
        return hasher.finalize()
    }

    deinit { if !closed { try? handle.close() } }
}
