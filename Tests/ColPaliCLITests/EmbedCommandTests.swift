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

    @Test func npyAndNpzFiles() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-embed")
        let single = directory.appendingPathComponent("q.npy")
        #expect(try await run(["embed", "--query", "café", "--format", "npy", "--output", single.path]).status == 0)
        let data = try Data(contentsOf: single)
        #expect(data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
        #expect(String(decoding: data.prefix(128), as: UTF8.self).contains("'shape': (17, 128)"))
        let several = directory.appendingPathComponent("all.npz")
        let result = try await run(["embed", "--image", Fixtures.image("doc0.png").path, "--image", Fixtures.image("doc1.png").path,
                                    "--query", "a", "--format", "npy", "--output", several.path])
        #expect(result.status == 0, "\(result.error)")
        let zip = try Data(contentsOf: several)
        #expect(zip.prefix(4) == Data([0x50, 0x4B, 0x03, 0x04]))
        for name in ["image_0.npy", "image_1.npy", "query_0.npy"] {
            #expect(zip.range(of: Data(name.utf8)) != nil)
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
