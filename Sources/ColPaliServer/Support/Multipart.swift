import Foundation

/// A multipart/form-data body (RFC 7578) parsed whole, each part's bytes in
/// memory; uploads stream through the same reader (MultipartReader) to files.
struct Multipart: Equatable {
    struct Part: Equatable {
        let name: String
        let filename: String?
        let contentType: String?
        let body: Data
    }

    let parts: [Part]

    enum ParseError: Error, Equatable, CustomStringConvertible {
        case noBoundary
        case malformed(String)
        case tooManyParts(Int)

        var description: String {
            switch self {
            case .noBoundary: return "the Content-Type must be multipart/form-data with a boundary"
            case .malformed(let reason): return "the multipart body is malformed: \(reason)"
            case .tooManyParts(let limit): return "the multipart body has more than \(limit) parts"
            }
        }
    }

    /// More parts than a form of ours has is a mistake or an attack.
    static let maximumParts = 16
    /// Part headers larger than this are refused.
    static let maximumHeaderBytes = 8 * 1024

    /// The boundary of a `multipart/form-data; boundary=...` content type.
    static func boundary(contentType: String?) throws -> String {
        guard let contentType else { throw ParseError.noBoundary }
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.first?.lowercased() == "multipart/form-data" else { throw ParseError.noBoundary }
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            // RFC 2046: 1 to 70 characters.
            guard (1...70).contains(value.utf8.count), !value.contains("\r"), !value.contains("\n") else { throw ParseError.noBoundary }
            return value
        }
        throw ParseError.noBoundary
    }

    /// A whole body in memory, through the reader uploads stream through.
    static func parse(_ body: Data, boundary: String) throws -> Multipart {
        var parts: [Part] = []
        var reader = MultipartReader(boundary: boundary, open: { _ in
            MemorySink(limit: .max, exceeded: { ParseError.malformed("a part is too large") })
        }, close: { headers, sink in
            parts.append(Part(name: headers.name, filename: headers.filename, contentType: headers.contentType,
                              body: (sink as! MemorySink).data))
        })
        try reader.consume(body)
        try reader.finish()
        return Multipart(parts: parts)
    }

    func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    static func parseHeaders(_ bytes: ArraySlice<UInt8>) throws -> MultipartReader.Headers {
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw ParseError.malformed("a part's headers are not UTF-8") }
        var name: String?
        var filename: String?
        var contentType: String?
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw ParseError.malformed("a part header has no ':'") }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch field {
            case "content-disposition":
                let parameters = dispositionParameters(value)
                guard parameters.type == "form-data" else { throw ParseError.malformed("a part is not form-data") }
                name = parameters.values["name"]
                filename = parameters.values["filename"]
            case "content-type":
                contentType = value
            default:
                continue
            }
        }
        guard let name, !name.isEmpty else { throw ParseError.malformed("a part has no name") }
        return MultipartReader.Headers(name: name, filename: filename, contentType: contentType)
    }

    /// `form-data; name="file"; filename="a b.pdf"`: quoted values may hold
    /// ';' and escaped quotes.
    static func dispositionParameters(_ value: String) -> (type: String, values: [String: String]) {
        var values: [String: String] = [:]
        let characters = Array(value)
        var index = 0
        func skipSpaces() { while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 } }
        var type = ""
        while index < characters.count, characters[index] != ";" { type.append(characters[index]); index += 1 }
        while index < characters.count {
            index += 1  // the ';'
            skipSpaces()
            var key = ""
            while index < characters.count, characters[index] != "=", characters[index] != ";" { key.append(characters[index]); index += 1 }
            guard index < characters.count, characters[index] == "=" else { continue }
            index += 1
            var parsed = ""
            if index < characters.count, characters[index] == "\"" {
                index += 1
                while index < characters.count, characters[index] != "\"" {
                    if characters[index] == "\\", index + 1 < characters.count { index += 1 }
                    parsed.append(characters[index])
                    index += 1
                }
                index += 1
                while index < characters.count, characters[index] != ";" { index += 1 }
            } else {
                while index < characters.count, characters[index] != ";" { parsed.append(characters[index]); index += 1 }
                parsed = parsed.trimmingCharacters(in: .whitespaces)
            }
            values[key.trimmingCharacters(in: .whitespaces).lowercased()] = parsed
        }
        return (type.trimmingCharacters(in: .whitespaces).lowercased(), values)
    }

    /// First index of `needle` in `haystack` at or after `start` (and, with
    /// `limit`, starting within `limit` bytes of it).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, limit: Int? = nil) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let last = min(haystack.count - needle.count, limit.map { start + $0 } ?? Int.max)
        guard start <= last else { return nil }
        let first = needle[0]
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                var i = start
                while i <= last {
                    if h[i] == first, memcmp(h.baseAddress! + i, n.baseAddress!, n.count) == 0 { return i }
                    i += 1
                }
                return nil
            }
        }
    }
}
