import ColPaliCore
import NIOCore
import PostgresNIO

// A multi-vector as the `pages.embedding` column holds it: a rows x dim
// `real[][]`, sent and received in Postgres' binary array format (8 bytes a
// value), never as megabytes of text.

public enum EmbeddingDecodingError: Error, CustomStringConvertible {
    case notTwoDimensional(Int)
    case nullElement
    case wrongElementType(UInt32)
    case malformed

    public var description: String {
        switch self {
        case .notTwoDimensional(let n): return "expected a 2-D real[] embedding, got \(n) dimension(s)"
        case .nullElement: return "embedding contains NULL"
        case .wrongElementType(let oid): return "expected real elements, got type oid \(oid)"
        case .malformed: return "malformed binary array"
        }
    }
}

extension MultiVector: PostgresNonThrowingEncodable {
    public static var psqlType: PostgresDataType { .float4Array }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer,
                                                         context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(2))                          // dimensions
        buffer.writeInteger(Int32(0))                          // no NULLs
        buffer.writeInteger(PostgresDataType.float4.rawValue)  // element type
        buffer.writeInteger(Int32(rows)); buffer.writeInteger(Int32(1))
        buffer.writeInteger(Int32(dim)); buffer.writeInteger(Int32(1))
        // Each element: its length (4) and its big-endian bits, written in one pass.
        let count = values.count
        buffer.reserveCapacity(minimumWritableBytes: count * 8)
        values.withUnsafeBufferPointer { source in
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count * 8) { raw in
                for i in 0..<count {
                    raw.storeBytes(of: UInt32(4).bigEndian, toByteOffset: i * 8, as: UInt32.self)
                    raw.storeBytes(of: source[i].bitPattern.bigEndian, toByteOffset: i * 8 + 4, as: UInt32.self)
                }
                return count * 8
            }
        }
    }
}

extension MultiVector: PostgresDecodable {
    public init<JSONDecoder: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType,
                                                  format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>) throws {
        guard format == .binary,
              let ndim = buffer.readInteger(as: Int32.self),
              let _ = buffer.readInteger(as: Int32.self),
              let element = buffer.readInteger(as: UInt32.self) else { throw EmbeddingDecodingError.malformed }
        guard ndim == 2 else { throw EmbeddingDecodingError.notTwoDimensional(Int(ndim)) }
        guard element == PostgresDataType.float4.rawValue else { throw EmbeddingDecodingError.wrongElementType(element) }
        guard let rows = buffer.readInteger(as: Int32.self), buffer.readInteger(as: Int32.self) != nil,
              let dim = buffer.readInteger(as: Int32.self), buffer.readInteger(as: Int32.self) != nil,
              rows >= 0, dim >= 0 else { throw EmbeddingDecodingError.malformed }
        let count = Int(rows) * Int(dim)
        guard buffer.readableBytes == count * 8 else { throw EmbeddingDecodingError.malformed }
        var failed = false
        let values = buffer.withUnsafeReadableBytes { raw in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    let length = Int32(bigEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int32.self))
                    if length != 4 { failed = true; out[i] = 0; continue }
                    out[i] = Float(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self)))
                }
                initialized = count
            }
        }
        buffer.moveReaderIndex(forwardBy: count * 8)
        if failed { throw EmbeddingDecodingError.nullElement }
        self.init(rows: Int(rows), dim: Int(dim), values: values)
    }
}
