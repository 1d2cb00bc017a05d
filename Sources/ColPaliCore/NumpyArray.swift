import Foundation

/// A NumPy `.npy` array of floats, read from untrusted bytes: version 1 to 3
/// headers, little-endian float16, float32 or float64 in C order, at most
/// three dimensions. Everything else is refused with a clear error before
/// any value is read, and the values must be finite.
public struct NumpyArray: Sendable, Equatable {
    public let shape: [Int]
    /// Row-major, widened or narrowed to Float.
    public let values: [Float]

    /// Most values one array may hold (2 GiB of float32).
    public static let maximumValues = 1 << 29

    public enum ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        case notNumpy
        case unsupportedVersion(Int)
        case badHeader(String)
        case unsupportedType(String)
        case fortranOrder
        case badShape(String)
        case sizeMismatch(expected: Int, actual: Int)
        case tooLarge(Int)
        case nonFinite(index: Int)

        public var description: String {
            switch self {
            case .notNumpy: return "not a NumPy .npy file (the magic bytes are missing)"
            case .unsupportedVersion(let v): return ".npy format version \(v) is not one of 1, 2, 3"
            case .badHeader(let reason): return "the .npy header is malformed: \(reason)"
            case .unsupportedType(let descr): return "the array's type '\(descr)' is not little-endian float16, float32 or float64"
            case .fortranOrder: return "the array is in Fortran order; save it in C order (numpy.ascontiguousarray)"
            case .badShape(let reason): return "the array's shape is not usable: \(reason)"
            case .sizeMismatch(let expected, let actual):
                return "the array's data is \(actual) bytes where its shape needs \(expected)"
            case .tooLarge(let count): return "the array has \(count) values, more than \(NumpyArray.maximumValues)"
            case .nonFinite(let index): return "the array holds NaN or an infinite value at flat index \(index)"
            }
        }
    }

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    public static func parse(_ data: Data) throws -> NumpyArray {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else { throw ParseError.notNumpy }
        let version = Int(bytes[6])
        let lengthBytes: Int
        switch version {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default: throw ParseError.unsupportedVersion(version)
        }
        guard bytes.count >= 8 + lengthBytes else { throw ParseError.badHeader("it ends before its length") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthBytes
        guard headerLength <= 65_536, headerStart + headerLength <= bytes.count else {
            throw ParseError.badHeader("its length \(headerLength) runs past the file")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw ParseError.badHeader("it is not text")
        }
        let descr = try field("descr", in: header)
        let order = try field("fortran_order", in: header)
        let shapeText = try field("shape", in: header)
        let width: Int
        switch descr {
        case "'<f2'": width = 2
        case "'<f4'": width = 4
        case "'<f8'": width = 8
        default: throw ParseError.unsupportedType(descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")))
        }
        guard order == "False" else {
            if order == "True" { throw ParseError.fortranOrder }
            throw ParseError.badHeader("fortran_order is '\(order)'")
        }
        guard shapeText.hasPrefix("("), shapeText.hasSuffix(")") else { throw ParseError.badShape("'\(shapeText)' is not a tuple") }
        let parts = shapeText.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var shape: [Int] = []
        for part in parts {
            guard let n = Int(part), n >= 0, n <= maximumValues else { throw ParseError.badShape("dimension '\(part)'") }
            shape.append(n)
        }
        guard (1...3).contains(shape.count) else { throw ParseError.badShape("\(shape.count) dimensions (1 to 3 are read)") }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= maximumValues else { throw ParseError.tooLarge(overflow ? Int.max : product) }
            count = product
        }
        let bodyStart = headerStart + headerLength
        guard bytes.count - bodyStart == count * width else {
            throw ParseError.sizeMismatch(expected: count * width, actual: bytes.count - bodyStart)
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let at = bodyStart + i * width
            let value: Float
            switch width {
            case 2:
                value = Float(Float16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8))
            case 4:
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(bytes[at + b]) << (8 * b) }
                value = Float(bitPattern: bits)
            default:
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[at + b]) << (8 * b) }
                let wide = Double(bitPattern: bits)
                guard wide.isFinite, abs(wide) <= Double(Float.greatestFiniteMagnitude) else { throw ParseError.nonFinite(index: i) }
                value = Float(wide)
            }
            guard value.isFinite else { throw ParseError.nonFinite(index: i) }
            values[i] = value
        }
        return NumpyArray(shape: shape, values: values)
    }

    /// The text of `'key': value` in the header dictionary (a tuple whole).
    private static func field(_ key: String, in header: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else {
            throw ParseError.badHeader("no '\(key)'")
        }
        var rest = header[keyRange.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { throw ParseError.badHeader("no ':' after '\(key)'") }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw ParseError.badHeader("'\(key)' is an unclosed tuple") }
            return String(rest[...close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces)
    }

    /// The query multi-vectors this array holds: one per leading index of a
    /// Q x rows x dim array, or the one rows x dim array itself.
    public func multiVectors() throws -> [MultiVector] {
        switch shape.count {
        case 2:
            guard shape[0] > 0, shape[1] > 0 else { throw ParseError.badShape("an empty \(shape[0]) x \(shape[1]) array") }
            return [MultiVector(rows: shape[0], dim: shape[1], values: values)]
        case 3:
            guard shape[0] > 0, shape[1] > 0, shape[2] > 0 else { throw ParseError.badShape("an empty array \(shape)") }
            let size = shape[1] * shape[2]
            return (0..<shape[0]).map { q in
                MultiVector(rows: shape[1], dim: shape[2], values: Array(values[(q * size)..<((q + 1) * size)]))
            }
        default:
            throw ParseError.badShape("\(shape.count) dimension(s): a rows x dim or Q x rows x dim array is needed")
        }
    }
}
