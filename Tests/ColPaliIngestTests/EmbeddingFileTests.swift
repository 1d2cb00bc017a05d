import ColPaliCore
import Foundation
import Testing
import TestSupport
import ZIPFoundation
@testable import ColPaliIngest

/// Embedding files as NumPy and safetensors write them: read back exactly,
/// in page order; anything else refused with the reason.
@Suite struct EmbeddingFileTests {
    static func npy(_ shape: [Int], _ values: [Float]) -> Data { TestNumpy.npy(shape, values) }

    static func npz(_ arrays: [(String, Data)], compressed: Bool = false) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (name, data) in arrays {
            try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: compressed ? .deflate : .none) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        return try #require(archive.data)
    }

    /// A safetensors file: header JSON, then the tensors' bytes.
    static func safetensors(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: Data)], metadata: [String: String]? = nil) -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for tensor in tensors {
            header[tensor.name] = ["dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [body.count, body.count + tensor.bytes.count]]
            body += tensor.bytes
        }
        if let metadata { header["__metadata__"] = metadata }
        let json = try! JSONSerialization.data(withJSONObject: header)
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        return data + json + body
    }

    static func write(_ data: Data, _ name: String) throws -> URL {
        let url = try RepositoryPaths.temporaryDirectory("embeddings").appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    var random = SeededRandom(5)

    @Test mutating func numpyFilesInEveryLayoutReadBackInPageOrder() throws {
        let a = random.floats(3 * 4), b = random.floats(2 * 4), c = random.floats(3 * 4)
        let stacked = try EmbeddingFile.read(contentsOf: Self.write(Self.npy([2, 3, 4], a + c), "p.npy"))
        #expect(stacked.pages == [MultiVector(rows: 3, dim: 4, values: a), MultiVector(rows: 3, dim: 4, values: c)])
        // Ragged pages, named out of order in the archive, compressed or not.
        for compressed in [false, true] {
            let named = try Self.npz([("page_2", Self.npy([2, 4], b)), ("page_1", Self.npy([3, 4], a)), ("page_3", Self.npy([3, 4], c))],
                                     compressed: compressed)
            let file = try EmbeddingFile.read(contentsOf: Self.write(named, "p.npz"))
            #expect(file.pages.map(\.values) == [a, b, c])
        }
        // numpy.savez(f, *pages) names them arr_0, arr_1, ...; colpali embed image_0, ...
        for prefix in ["arr_", "image_"] {
            let positional = try Self.npz((0..<11).map { ("\(prefix)\($0)", Self.npy([1, 4], [Float($0), 0, 0, 0])) })
            let file = try EmbeddingFile.read(contentsOf: Self.write(positional, "p.npz"))
            #expect(file.pages.map { $0.values[0] } == (0..<11).map(Float.init))
        }
    }

    @Test mutating func safetensorsInBF16WithTheModelInItsMetadata() throws {
        let values = random.floats(2 * 3 * 4)
        // bf16: the top half of each float32 (what torch stores), read back as that float.
        let bf16 = values.map { UInt16($0.bitPattern >> 16) }
        var bytes = Data()
        for half in bf16 { withUnsafeBytes(of: half.littleEndian) { bytes.append(contentsOf: $0) } }
        let data = Self.safetensors([("embeddings", "BF16", [2, 3, 4], bytes)], metadata: ["model": "vidore/colpali-v1.2"])
        let file = try EmbeddingFile.read(contentsOf: Self.write(data, "e.safetensors"))
        #expect(file.modelName == "vidore/colpali-v1.2")
        #expect(file.pages.count == 2 && file.pages[1].rows == 3)
        #expect(file.pages.flatMap(\.values) == bf16.map { Float(bitPattern: UInt32($0) << 16) })
    }

    @Test mutating func badFilesAreRefusedWithTheReason() throws {
        let page = random.floats(8)
        let cases: [(Data, String, EmbeddingFile.ReadError)] = [
            (Self.npy([2, 4], page), "e.pt", .unsupportedFormat("e.pt")),
            (try Self.npz([("page_1", Self.npy([2, 4], page)), ("page_2", Self.npy([2, 5], page + [0, 0]))]), "e.npz",
             .mixedDimensions(page: 2, dim: 5, first: 4)),
            (try Self.npz([("page_1", Self.npy([2, 4], page)), ("page_3", Self.npy([2, 4], page))]), "e.npz",
             .malformed("with several arrays, name them page_1, page_2, ... (or arr_0, arr_1, ... as numpy.savez does): found page_1, page_3")),
            (try Self.npz([]), "e.npz", .noPages),
            (Data("PK not really".utf8), "e.npz", .malformed("not a .npz (zip) archive")),
            (Self.npy([2, 4], [Float.nan] + page.dropFirst()), "e.npy",
             .malformed("the array holds NaN or an infinite value at flat index 0")),
            (Self.safetensors([("embeddings", "I64", [1, 1], Data(count: 8))]), "e.safetensors", .malformed("embeddings is I64, not F32, F16 or BF16")),
        ]
        for (data, name, expected) in cases {
            #expect(throws: expected) { try EmbeddingFile.read(contentsOf: Self.write(data, name)) }
        }
        // NaN in safetensors (no parser of ours checks it there): refused too.
        var nan = Data()
        for value in [Float.infinity, 1, 2, 3] { withUnsafeBytes(of: value.bitPattern.littleEndian) { nan.append(contentsOf: $0) } }
        #expect(throws: EmbeddingFile.ReadError.nonFinite(page: 1)) {
            try EmbeddingFile.read(contentsOf: Self.write(Self.safetensors([("page_1", "F32", [1, 4], nan)]), "n.safetensors"))
        }
    }
}
