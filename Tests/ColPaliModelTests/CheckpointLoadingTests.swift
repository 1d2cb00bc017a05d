@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

/// Every checkpoint variant users have loads to the same weights.
struct CheckpointLoadingTests {
    static let offline = ModelLocator(environment: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": "/nonexistent"])

    func load(_ name: String, locator: ModelLocator = offline) async throws -> ColPaliCheckpoint {
        try await ColPaliCheckpoint.load(Fixtures.model(name).path, locator: locator)
    }

    @Test func transformersFormatConfiguration() async throws {
        let model = try await load("hf-fp32")
        let c = model.configuration
        #expect(c.vision.hiddenSize == 48 && c.vision.layers == 2 && c.vision.patchCount == 16)
        #expect(c.text.hiddenSize == 64 && c.text.headDim == 32 && c.text.keyValueHeads == 1 && c.text.layers == 2)
        #expect(c.imageTokenIndex == 1711 && c.embeddingDim == 128 && c.projectionDim == 64)
        #expect(model.processor.imageToken == "<image>")
        #expect(model.processor.imageProcessor.size == 56)
    }

    @Test(arguments: ["hf-bf16", "hf-sharded", "hf-legacy"])
    func variantsHoldTheSameWeights(variant: String) async throws {
        let reference = try await load("hf-fp32")
        let model = try await load(variant)
        #expect(model.configuration == reference.configuration)
        for name in reference.weights.shapes.keys.sorted() {
            let expected = try reference.weights.floats(name)
            let actual = try model.weights.floats(name)
            if variant == "hf-bf16" {
                #expect(actual == expected.map { bf16ToFloat(floatToBF16($0)) }, "\(name)")
            } else {
                #expect(actual == expected, "\(name)")
            }
        }
    }

    @Test(arguments: ["engine-adapter", "engine-adapter-v5names"])
    func loraAdapterMergesLikePeft(adapter: String) async throws {
        let cache = try Fixtures.hubCache(with: ["test-org/tiny-colpali-base": Fixtures.model("engine-base")])
        let locator = ModelLocator(environment: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": cache.path])
        let model = try await ColPaliCheckpoint.load(Fixtures.model(adapter).path, locator: locator)
        #expect(model.weights.adapter?.rank == 4)
        #expect(model.weights.adapter?.updates.count == 15)
        let merged = try SafeTensorsFile(url: Fixtures.reference("engine-merged-weights.safetensors"))
        for (name, info) in merged.tensors {
            let canonical = try #require(WeightNames.canonical(name))
            let actual = try model.weights.floats(canonical)
            let expected = merged.floats(info)
            #expect(actual.count == expected.count && !expected.isEmpty, "\(name)")
            let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "\(name): \(worst)")
        }
        // Not targeted: the base's values as they are.
        let base = try await load("engine-base")
        #expect(try model.weights.floats("language_model.norm.weight") == base.weights.floats("language_model.norm.weight"))
    }

    @Test func adapterWhoseBaseCannotBeFound() async throws {
        do {
            _ = try await load("engine-adapter")
            Issue.record("loaded without a base")
        } catch let error as CheckpointError {
            #expect(error.description.contains("test-org/tiny-colpali-base"))
            #expect(error.description.contains("HF_HUB_OFFLINE"))
        }
    }

    @Test func directoryThatIsNotAColPaliCheckpoint() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-notmodel")
        try Data("{\"model_type\": \"bert\"}".utf8).write(to: directory.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Fixtures.model("hf-fp32").appendingPathComponent("model.safetensors"),
                                         to: directory.appendingPathComponent("model.safetensors"))
        do {
            _ = try await ColPaliCheckpoint.load(directory.path, locator: Self.offline)
            Issue.record("accepted")
        } catch let error as CheckpointError {
            #expect(error.description.contains("is not a ColPali checkpoint"))
            #expect(error.description.contains("bert"))
        }
        await #expect(throws: HubError.self) { try await ColPaliCheckpoint.load("/no/such/dir", locator: Self.offline) }
    }

    @Test func missingAndExtraTensorsAreNamed() async throws {
        let source = try SafeTensorsFile(url: Fixtures.model("hf-fp32").appendingPathComponent("model.safetensors"))
        func rewrite(dropping dropped: String?, adding added: String?) throws -> URL {
            let directory = try RepositoryPaths.temporaryDirectory("colpali-names")
            for file in ["config.json", "tokenizer.json", "processor_config.json"] {
                try FileManager.default.copyItem(at: Fixtures.model("hf-fp32").appendingPathComponent(file),
                                                 to: directory.appendingPathComponent(file))
            }
            var header: [String: Any] = [:]
            var data = Data()
            var names = source.tensors.keys.filter { $0 != dropped }.sorted()
            if let added { names.append(added) }
            for name in names {
                let info = source.tensors[name] ?? source.tensors.values.first { $0.shape == [64] }!
                header[name] = ["dtype": info.dtype.rawValue, "shape": info.shape, "data_offsets": [data.count, data.count + info.range.count]]
                data.append(contentsOf: source.bytes(info))
            }
            let json = try JSONSerialization.data(withJSONObject: header)
            var length = UInt64(json.count).littleEndian
            var file = Data(bytes: &length, count: 8)
            file.append(json)
            file.append(data)
            try file.write(to: directory.appendingPathComponent("model.safetensors"))
            return directory
        }
        let missing = try rewrite(dropping: "vlm.language_model.model.layers.1.mlp.up_proj.weight", adding: nil)
        do {
            _ = try await ColPaliCheckpoint.load(missing.path, locator: Self.offline)
            Issue.record("missing tensor accepted")
        } catch let error as CheckpointError {
            #expect(error.description.contains("language_model.layers.1.mlp.up_proj.weight"))
        }
        let extra = try rewrite(dropping: nil, adding: "vlm.language_model.model.layers.1.mystery.weight")
        do {
            _ = try await ColPaliCheckpoint.load(extra.path, locator: Self.offline)
            Issue.record("extra tensor accepted")
        } catch let error as CheckpointError {
            #expect(error.description.contains("language_model.layers.1.mystery.weight"))
        }
    }

    @Test func weightNamesNormalise() {
        let cases = [
            "vlm.vision_tower.embeddings.patch_embedding.weight": "vision_tower.embeddings.patch_embedding.weight",
            "vlm.vision_tower.vision_model.encoder.layers.3.mlp.fc1.bias": "vision_tower.encoder.layers.3.mlp.fc1.bias",
            "model.vision_tower.vision_model.post_layernorm.weight": "vision_tower.post_layernorm.weight",
            "vlm.language_model.model.layers.0.self_attn.q_proj.weight": "language_model.layers.0.self_attn.q_proj.weight",
            "model.language_model.model.norm.weight": "language_model.norm.weight",
            "base_model.model.model.model.language_model.layers.2.mlp.up_proj.lora_A.weight": "language_model.layers.2.mlp.up_proj.lora_A.weight",
            "base_model.model.custom_text_proj.lora_B.weight": "embedding_proj_layer.lora_B.weight",
            "custom_text_proj.bias": "embedding_proj_layer.bias",
            "vlm.multi_modal_projector.linear.weight": "multi_modal_projector.linear.weight",
        ]
        for (raw, canonical) in cases { #expect(WeightNames.canonical(raw) == canonical, "\(raw)") }
        #expect(WeightNames.canonical("vlm.lm_head.weight") == nil)
    }
}
