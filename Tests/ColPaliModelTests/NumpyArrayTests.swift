import ColPaliCore
import Foundation
import Testing

/// .npy files from elsewhere: read exactly, refused clearly when they are not
/// what they claim, never read past their end.
struct NumpyArrayTests {
    /// A .npy as numpy.save writes it (version 1, header padded to 64 bytes).
    static func npy(descr: String = "<f4", order: String = "False", shape: String, body: [UInt8], version: UInt8 = 1) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(order), 'shape': \(shape), }"
        let lengthBytes = version == 1 ? 2 : 4
        let unpadded = 8 + lengthBytes + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        let length = header.utf8.count
        for i in 0..<lengthBytes { data.append(UInt8((length >> (8 * i)) & 0xFF)) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: body)
        return data
    }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    @Test func readsFloat32Float16AndFloat64InCOrder() throws {
        let values: [Float] = [0.5, -1, 2.25, 3, -0.125, 7]
        let f4 = try NumpyArray.parse(Self.npy(shape: "(2, 3)", body: Self.floats(values)))
        #expect(f4.shape == [2, 3] && f4.values == values)
        let f2 = try NumpyArray.parse(Self.npy(descr: "<f2", shape: "(6,)", body: values.flatMap {
            withUnsafeBytes(of: Float16($0).bitPattern.littleEndian, Array.init)
        }))
        #expect(f2.shape == [6] && f2.values == values)
        let f8 = try NumpyArray.parse(Self.npy(descr: "<f8", shape: "(1, 2, 3)", body: values.flatMap {
            withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init)
        }, version: 2))
        #expect(f8.shape == [1, 2, 3] && f8.values == values)
        // Q x rows x dim: one multi-vector per query; rows x dim: one.
        #expect(try f8.multiVectors().map(\.rows) == [2])
        let three = try NumpyArray.parse(Self.npy(shape: "(3, 1, 2)", body: Self.floats(values)))
        #expect(try three.multiVectors().map(\.values) == [[0.5, -1], [2.25, 3], [-0.125, 7]])
    }

    @Test func hostileFilesAreRefusedWithAReason() {
        let body = Self.floats([1, 2, 3, 4])
        let cases: [(Data, NumpyArray.ParseError)] = [
            (Data("not numpy".utf8), .notNumpy),
            (Data([0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0]), .unsupportedVersion(9)),
            (Self.npy(descr: ">f4", shape: "(2, 2)", body: body), .unsupportedType(">f4")),
            (Self.npy(descr: "<i4", shape: "(2, 2)", body: body), .unsupportedType("<i4")),
            (Self.npy(order: "True", shape: "(2, 2)", body: body), .fortranOrder),
            (Self.npy(shape: "(2, 3)", body: body), .sizeMismatch(expected: 24, actual: 16)),
            (Self.npy(shape: "(2, 2)", body: body + [0]), .sizeMismatch(expected: 16, actual: 17)),
            (Self.npy(shape: "(1, 1, 1, 4)", body: body), .badShape("4 dimensions (1 to 3 are read)")),
            (Self.npy(shape: "(-1, 4)", body: body), .badShape("dimension '-1'")),
            (Self.npy(shape: "(4294967296, 4)", body: body), .badShape("dimension '4294967296'")),
            (Self.npy(shape: "(65536, 65536)", body: body), .tooLarge(4_294_967_296)),
            (Self.npy(shape: "(2, 2)", body: Self.floats([1, .nan, 3, 4])), .nonFinite(index: 1)),
            (Self.npy(descr: "<f8", shape: "(1,)", body: withUnsafeBytes(of: (1e300 as Double).bitPattern.littleEndian, Array.init)),
             .nonFinite(index: 0)),
        ]
        for (data, expected) in cases {
            #expect(throws: expected) { try NumpyArray.parse(data) }
        }
        // A header length that runs past the file.
        var truncated = Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF])
        truncated.append(contentsOf: Array("{'descr'".utf8))
        #expect(throws: NumpyArray.ParseError.badHeader("its length 65535 runs past the file")) { try NumpyArray.parse(truncated) }
        // Every truncation of a good file is an error, never a crash.
        let good = Self.npy(shape: "(2, 2)", body: body)
        for end in 0..<good.count {
            #expect(throws: NumpyArray.ParseError.self) { try NumpyArray.parse(good.prefix(end)) }
        }
        // A 1-D array is not a multi-vector.
        #expect(throws: NumpyArray.ParseError.self) { try NumpyArray.parse(Self.npy(shape: "(4,)", body: body)).multiVectors() }
    }
}
