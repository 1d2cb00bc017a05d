import Crypto
import Foundation
import Testing
import TestSupport
@testable import ColPaliServer

/// The upload form parser: what browsers and `requests` send is read back
/// exactly; anything else is an error, never a crash or a part made up.
@Suite struct MultipartTests {
    static func body(_ parts: [(headers: String, body: Data)], boundary: String = "XyZ-123") -> Data {
        var data = Data()
        for part in parts {
            data += Data("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8) + part.body + Data("\r\n".utf8)
        }
        return data + Data("--\(boundary)--\r\n".utf8)
    }

    @Test func partsAreReadBackExactly() throws {
        let pdf = Data("%PDF-1.4\r\n--XyZ-12 not a boundary\r\n".utf8) + Data((0...255).map { UInt8($0) })
        let data = Self.body([
            ("Content-Disposition: form-data; name=\"file\"; filename=\"a; \\\"b\\\".pdf\"\r\nContent-Type: application/pdf", pdf),
            ("content-disposition: form-data; name=options", Data(#"{"title": "T"}"#.utf8)),
        ])
        let form = try Multipart.parse(data, boundary: try Multipart.boundary(contentType: "multipart/form-data; boundary=\"XyZ-123\""))
        #expect(form.parts.count == 2)
        #expect(form.part("file") == .init(name: "file", filename: "a; \"b\".pdf", contentType: "application/pdf", body: pdf))
        #expect(form.part("options")?.body == Data(#"{"title": "T"}"#.utf8))
        #expect(form.part("options")?.filename == nil)
    }

    @Test func malformedBodiesAreRefusedWithAReason() {
        let good = Self.body([("Content-Disposition: form-data; name=\"a\"", Data("x".utf8))])
        let cases: [(Data, Multipart.ParseError)] = [
            (Data("no boundary here".utf8), .malformed("no boundary line")),
            (good.prefix(good.count - 12), .malformed("the body ends inside a part (no closing boundary)")),
            (Self.body([("Content-Type: text/plain", Data("x".utf8))]), .malformed("a part has no name")),
            (Self.body([("Content-Disposition: attachment; name=\"a\"", Data())]), .malformed("a part is not form-data")),
            (Self.body(Array(repeating: ("Content-Disposition: form-data; name=\"a\"", Data()), count: 17)), .tooManyParts(16)),
        ]
        for (data, expected) in cases {
            #expect(throws: expected) { try Multipart.parse(data, boundary: "XyZ-123") }
        }
        for contentType in [nil, "application/json", "multipart/form-data", "multipart/form-data; boundary=",
                            "multipart/form-data; boundary=\(String(repeating: "a", count: 71))"] {
            #expect(throws: Multipart.ParseError.noBoundary) { try Multipart.boundary(contentType: contentType) }
        }
    }

    final class Collected: @unchecked Sendable {
        var parts: [Multipart.Part] = []
    }

    static func read(_ data: Data, pieces size: Int, limit: Int = .max) throws -> [Multipart.Part] {
        let collected = Collected()
        var reader = MultipartReader(boundary: "XyZ-123", open: { _ in
            MemorySink(limit: limit) { Multipart.ParseError.malformed("over the limit") }
        }, close: { headers, sink in
            collected.parts.append(.init(name: headers.name, filename: headers.filename, contentType: headers.contentType,
                                         body: (sink as! MemorySink).data))
        })
        var offset = 0
        while offset < data.count {
            try reader.consume(data[offset..<min(offset + size, data.count)])
            offset += size
        }
        try reader.finish()
        return collected.parts
    }

    /// Fed in pieces of any size, as a request body arrives, the reader gives
    /// every part exactly as the whole body read at once, boundaries and
    /// near-boundaries split anywhere.
    @Test func aBodyInPiecesOfAnySizeReadsAsAWhole() throws {
        let pdf = Data("%PDF-1.4\r\n--XyZ-12 not a boundary\r\n\r\n-".utf8) + Data((0...255).map { UInt8($0) })
        let data = Data("preamble\r\n".utf8) + Self.body([
            ("Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"", pdf),
            ("Content-Disposition: form-data; name=\"empty\"", Data()),
            ("Content-Disposition: form-data; name=\"options\"", Data("{}\r\n".utf8)),
        ]) + Data("epilogue".utf8)
        let whole = try Self.read(data, pieces: data.count)
        #expect(whole.map(\.name) == ["file", "empty", "options"])
        #expect(whole[0].body == pdf && whole[1].body.isEmpty && whole[2].body == Data("{}\r\n".utf8))
        for size in [1, 2, 3, 5, 9, 10, 11, 64, 300] {
            #expect(try Self.read(data, pieces: size) == whole, "pieces of \(size)")
        }
        // A part over its sink's limit stops the body.
        #expect(throws: Multipart.ParseError.malformed("over the limit")) { try Self.read(data, pieces: 7, limit: 100) }
    }

    /// However large a part, the reader holds back no more than a boundary.
    @Test func aLargePartIsNeverHeldInMemory() throws {
        final class Counter: MultipartSink {
            var count = 0
            func write(_ bytes: ArraySlice<UInt8>) { count += bytes.count }
        }
        let sink = Counter()
        var reader = MultipartReader(boundary: "XyZ-123", open: { _ in sink })
        try reader.consume(Data("--XyZ-123\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".utf8))
        let chunk = [UInt8](repeating: 0x2D, count: 64 * 1024)  // '-', as boundaries start
        for _ in 0..<32 {
            try reader.consume(chunk)
            #expect(reader.bufferedBytes < "\r\n--XyZ-123".utf8.count)
        }
        try reader.consume(Data("\r\n--XyZ-123--\r\n".utf8))
        try reader.finish()
        #expect(sink.count == 32 * 64 * 1024)
    }

    /// A part on disk: written whole, hashed on the way, its first bytes
    /// kept; never over a file already there.
    @Test func aFilePartIsWrittenHashedAndNeverOverAnotherFile() throws {
        let directory = try RepositoryPaths.temporaryDirectory("file-sink")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("part")
        let content = Data("%PDF-1.7 ".utf8) + Data((0..<100_000).map { UInt8($0 % 251) })
        let sink = try FileSink(url: url)
        let bytes = [UInt8](content)
        for start in stride(from: 0, to: bytes.count, by: 4096) { try sink.write(bytes[start..<min(start + 4096, bytes.count)]) }
        #expect(try sink.finish() == SHA256.hash(data: content))
        #expect(sink.count == content.count && sink.head == content.prefix(16))
        #expect(FileManager.default.contents(atPath: url.path) == content)
        #expect(throws: (any Error).self) { try FileSink(url: url) }
        #expect(FileManager.default.contents(atPath: url.path) == content)
    }

    /// Random damage to a valid body: every outcome is a parse or a
    /// ParseError, and parsed parts are slices of the input.
    @Test func damagedBodiesNeverCrashTheParser() {
        var random = SeededRandom(3)
        let valid = Self.body([
            ("Content-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"", Data("%PDF-1.7 body".utf8)),
            ("Content-Disposition: form-data; name=\"options\"", Data("{}".utf8)),
        ])
        for _ in 0..<3_000 {
            var bytes = [UInt8](valid)
            for _ in 0..<random.int(1...6) {
                switch random.int(0...3) {
                case 0: bytes[random.int(0...(bytes.count - 1))] = UInt8(random.int(0...255))
                case 1: bytes.remove(at: random.int(0...(bytes.count - 1)))
                case 2: bytes.insert(UInt8([13, 10, 45, 34, 59][random.int(0...4)]), at: random.int(0...bytes.count))
                default: bytes = Array(bytes.prefix(random.int(0...bytes.count)))
                }
                if bytes.isEmpty { bytes = [45] }
            }
            do {
                let form = try Multipart.parse(Data(bytes), boundary: "XyZ-123")
                #expect(form.parts.allSatisfy { $0.body.count <= bytes.count })
            } catch is Multipart.ParseError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}
