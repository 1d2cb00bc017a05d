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
