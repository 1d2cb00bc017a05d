import ColPaliModel
import Foundation
import Testing
import TestSupport

/// `colpali embed` end to end on the tiny fixture model.
@Suite(.serialized) struct EmbedCommandTests {
    let colpali = RepositoryPaths.executable("colpali")
    let environment = ["HF_HUB_OFFLINE": "1", "COLPALI_MODEL": Fixtures.model("hf-fp32").path]

    func run(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        try await ChildProcess.run(colpali, arguments, environment: environment)
    }

    @Test func jsonHoldsEveryTokenOfImagesAndQueries() async throws {
        let result = try await run(["embed", "--image", Fixtures.image("doc0.png").path, "--query", "What is shown?",
                                    "--precision", "fp32", "--format", "json"])
        #expect(result.status == 0, "\(result.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let images = try #require(object["images"] as? [[String: Any]])
        let queries = try #require(object["queries"] as? [[String: Any]])
        #expect(images.count == 1 && queries.count == 1)
        #expect((images[0]["path"] as? String)?.hasSuffix("doc0.png") == true)
        let page = try #require(images[0]["embedding"] as? [[Double]])
        #expect(page.count == 28 && page[0].count == 128)
        let query = try #require(queries[0]["embedding"] as? [[Double]])
        #expect(query.count == 23)
        // Rows are unit vectors.
        #expect(abs(page[5].reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    }

    /// A .npy file's shape and little-endian float32 values.
    static func readNpy(_ data: Data) throws -> (shape: [Int], values: [Float]) {
        let bytes = [UInt8](data)
        try #require(bytes.count > 10 && Array(bytes[0..<6]) == [0x93] + Array("NUMPY".utf8) && bytes[6] == 1)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"))
        let shapeText = try #require(header.split(separator: "(").last?.split(separator: ")").first)
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = Array(bytes[(10 + headerLength)...])
        let values = stride(from: 0, to: body.count, by: 4).map { i in
            Float(bitPattern: UInt32(body[i]) | UInt32(body[i + 1]) << 8 | UInt32(body[i + 2]) << 16 | UInt32(body[i + 3]) << 24)
        }
        #expect(values.count == shape.reduce(1, *))
        return (shape, values)
    }

    /// The members of an uncompressed zip (what numpy.savez writes), by name.
    static func readZip(_ data: Data) throws -> [String: Data] {
        let bytes = [UInt8](data)
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var members: [String: Data] = [:]
        var at = 0
        while at + 30 <= bytes.count, u32(at) == 0x0403_4B50 {
            #expect(u16(at + 8) == 0, "members are stored, not compressed")
            let size = u32(at + 18), nameLength = u16(at + 26), extra = u16(at + 28)
            let name = String(decoding: bytes[(at + 30)..<(at + 30 + nameLength)], as: UTF8.self)
            let start = at + 30 + nameLength + extra
            members[name] = Data(bytes[start..<(start + size)])
            at = start + size
        }
        return members
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    /// The files hold the model's embeddings: the values of the transformers
    /// reference dump (scripts/fixtures), not only the right headers.
    @Test func npyAndNpzFilesHoldTheReferenceEmbeddings() async throws {
        let reference = try SafeTensorsFile(url: Fixtures.reference("hf.safetensors"))
        func expected(_ key: String) throws -> [Float] { reference.floats(try #require(reference[key])) }
        let directory = try RepositoryPaths.temporaryDirectory("colpali-embed")
        let single = directory.appendingPathComponent("q.npy")
        #expect(try await run(["embed", "--query", "café", "--precision", "fp32", "--format", "npy", "--output", single.path]).status == 0)
        let query = try Self.readNpy(Data(contentsOf: single))
        #expect(query.shape == [17, 128])
        #expect(Self.maxDifference(query.values, try expected("query.single.2.embeddings")) <= 1e-4)

        let several = directory.appendingPathComponent("all.npz")
        let result = try await run(["embed", "--image", Fixtures.image("doc0.png").path, "--image", Fixtures.image("doc1.png").path,
                                    "--query", "What is shown?", "--precision", "fp32", "--format", "npy", "--output", several.path])
        #expect(result.status == 0, "\(result.error)")
        let members = try Self.readZip(Data(contentsOf: several))
        #expect(Set(members.keys) == ["image_0.npy", "image_1.npy", "query_0.npy"])
        for (name, key, shape) in [("image_0.npy", "doc.single.0.embeddings", [28, 128]), ("image_1.npy", "doc.single.1.embeddings", [28, 128]),
                                   ("query_0.npy", "query.single.0.embeddings", [23, 128])] {
            let array = try Self.readNpy(try #require(members[name]))
            #expect(array.shape == shape, "\(name)")
            let difference = Self.maxDifference(array.values, try expected(key))
            #expect(difference <= 1e-4, "\(name): \(difference)")
        }
    }

    @Test func badInputsAreOneLineErrors() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-embed-bad")
        let broken = directory.appendingPathComponent("broken.png")
        try Data("not an image".utf8).write(to: broken)
        let cases: [([String], String)] = [
            (["embed", "--image", broken.path], "broken.png"),
            (["embed", "--query", "  "], "empty"),
            (["embed"], "at least one"),
            (["embed", "--query", "x", "--model", directory.path], "not a ColPali checkpoint"),
            (["embed", "--query", "x", "--prompt-format", "nope"], "unknown prompt format"),
            (["embed", "--query", "x", "--model", "some-org/not-cached"], "HF_HUB_OFFLINE"),
        ]
        for (arguments, text) in cases {
            let result = try await run(arguments)
            #expect(result.status != 0)
            #expect(result.error.split(separator: "\n").count == 1, "\(arguments): \(result.error)")
            #expect(result.error.contains(text), "\(arguments): \(result.error)")
        }
    }
}

extension EmbedCommandTests {
    /// Output to a device is written in place: an atomic replace would turn
    /// /dev/null into a regular file (it did, once).
    @Test func writingToDevNullLeavesTheDevice() async throws {
        let result = try await run(["embed", "--query", "x", "--output", "/dev/null"])
        #expect(result.status == 0)
        let type = try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType
        #expect(type == .typeCharacterSpecial)
    }
}
