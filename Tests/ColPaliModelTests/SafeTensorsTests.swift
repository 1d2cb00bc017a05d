@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

struct SafeTensorsTests {
    /// Writes a safetensors file from a header object and raw data.
    static func write(header: [String: Any], data: Data, headerLength: Int? = nil) throws -> URL {
        let json = try JSONSerialization.data(withJSONObject: header)
        var length = UInt64(headerLength ?? json.count).littleEndian
        var file = Data(bytes: &length, count: 8)
        file.append(json)
        file.append(data)
        let url = try RepositoryPaths.temporaryDirectory("colpali-st").appendingPathComponent("t.safetensors")
        try file.write(to: url)
        return url
    }

    @Test func readsEveryFloatTypeAsFloat32() throws {
        var data = Data()
        for value: Float in [1.5, -2, 0.25] { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        for value: Float in [1.5, -2] { withUnsafeBytes(of: floatToBF16(value).littleEndian) { data.append(contentsOf: $0) } }
        for value: Float16 in [0.5, -4] { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        let url = try Self.write(header: [
            "a": ["dtype": "F32", "shape": [3], "data_offsets": [0, 12]],
            "b": ["dtype": "BF16", "shape": [1, 2], "data_offsets": [12, 16]],
            "c": ["dtype": "F16", "shape": [2], "data_offsets": [16, 20]],
            "__metadata__": ["format": "pt"],
        ], data: data)
        let file = try SafeTensorsFile(url: url)
        #expect(file.floats(file["a"]!) == [1.5, -2, 0.25])
        #expect(file.floats(file["b"]!) == [1.5, -2])
        #expect(file["b"]!.shape == [1, 2])
        #expect(file.floats(file["c"]!) == [0.5, -4])
        #expect(file.metadata["format"] == "pt")
    }

    @Test func bf16RoundsToNearestEven() {
        #expect(bf16ToFloat(floatToBF16(1.0)) == 1.0)
        #expect(floatToBF16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even (down)
        #expect(floatToBF16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie to even (up)
        #expect(bf16ToFloat(floatToBF16(.nan)).isNaN)
    }

    func expectError(_ url: URL, _ text: String) {
        do {
            _ = try SafeTensorsFile(url: url)
            Issue.record("no error for \(text)")
        } catch let error as CheckpointError {
            #expect(error.description.contains(text), "\(error)")
            #expect(error.description.contains(url.path))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func corruptFilesAreNamedWithTheTensor() throws {
        let good: [String: Any] = ["w": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]]]
        expectError(try Self.write(header: good, data: Data(count: 4)), "outside the 4-byte data section")
        expectError(try Self.write(header: ["w": ["dtype": "Q4", "shape": [2], "data_offsets": [0, 8]]], data: Data(count: 8)),
                    "tensor 'w' has unknown dtype 'Q4'")
        expectError(try Self.write(header: ["w": ["dtype": "F32", "shape": [3], "data_offsets": [0, 8]]], data: Data(count: 8)),
                    "tensor 'w' is F32 [3] but has 8 bytes")
        expectError(try Self.write(header: good, data: Data(count: 8), headerLength: 5000), "truncated")
        let garbage = try RepositoryPaths.temporaryDirectory("colpali-st").appendingPathComponent("g.safetensors")
        try Data([1, 2, 3]).write(to: garbage)
        expectError(garbage, "truncated")
        try Data("{\"not\": \"safetensors\"}".utf8 + Data(count: 40)).write(to: garbage)
        expectError(garbage, "header length")
    }

    @Test func truncatedFixtureCheckpointIsRefused() throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-trunc")
        let source = try Data(contentsOf: Fixtures.model("hf-fp32").appendingPathComponent("model.safetensors"))
        try source.prefix(source.count - 1000).write(to: directory.appendingPathComponent("model.safetensors"))
        #expect(throws: CheckpointError.self) { try Checkpoint(directory: directory) }
    }

    @Test func missingShardIsNamed() throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-shard")
        let source = Fixtures.model("hf-sharded")
        for file in ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: directory.appendingPathComponent(file))
        }
        do {
            _ = try Checkpoint(directory: directory)
            Issue.record("missing shard accepted")
        } catch let error as CheckpointError {
            #expect(error.description.contains("model-00002-of-00002.safetensors"))
        }
    }
}
