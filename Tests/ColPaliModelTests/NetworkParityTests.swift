@testable import ColPaliModel
import ColPaliKernels
import Foundation
import Testing
import TestSupport

/// The Swift network against transformers fp32 on the tiny fixtures, stage by
/// stage and end to end (scripts/fixtures/README.md describes the dumps).
@Suite(.serialized) struct NetworkParityTests {
    struct Reference {
        let file: SafeTensorsFile
        func floats(_ key: String) throws -> [Float] { file.floats(try #require(file[key], "missing \(key)")) }
        func ints(_ key: String) throws -> [Int] { file.integers(try #require(file[key], "missing \(key)")) }
        func shape(_ key: String) throws -> [Int] { try #require(file[key]).shape }
    }

    static func reference(_ name: String) throws -> Reference {
        Reference(file: try SafeTensorsFile(url: Fixtures.reference(name)))
    }

    static func model(_ directory: String, precision: Precision = .fp32) async throws -> ColPali {
        let cache = try Fixtures.hubCache(with: ["test-org/tiny-colpali-base": Fixtures.model("engine-base")])
        let locator = ModelLocator(environment: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": cache.path])
        return try ColPali(checkpoint: try await ColPaliCheckpoint.load(Fixtures.model(directory).path, locator: locator),
                                precision: precision, context: ComputeContext(threads: 2))
    }

    /// The inputs of a batch in the reference, padding removed (by the mask).
    static func inputs(_ ref: Reference, prefix: String, pixels: Reference?) throws -> [(ModelInput, [Int])] {
        let ids = try ref.ints("\(prefix).input_ids"), mask = try ref.ints("\(prefix).attention_mask")
        let shape = try ref.shape("\(prefix).input_ids")
        let (batch, length) = (shape[0], shape[1])
        var pixelRows: [[Float]]?
        if let pixels {
            let all = try pixels.floats("doc.pixel_values")
            let per = all.count / batch
            pixelRows = (0..<batch).map { Array(all[($0 * per)..<(($0 + 1) * per)]) }
        }
        return (0..<batch).map { b in
            let kept = (0..<length).filter { mask[b * length + $0] == 1 }
            let input = ModelInput(inputIds: kept.map { ids[b * length + $0] }, pixelValues: pixelRows?[b])
            return (input, kept.map { b * length + $0 })
        }
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count)")
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// Rows of a [batch, length, width] reference tensor, at flat positions.
    static func rows(_ values: [Float], width: Int, positions: [Int]) -> [Float] {
        positions.flatMap { values[($0 * width)..<(($0 + 1) * width)] }
    }

    func checkStages(model: String, reference: String, pixelsFrom: String) async throws {
        let net = try await Self.model(model)
        let ref = try Self.reference(reference)
        let pixels = try Self.reference(pixelsFrom)
        for (prefix, withPixels) in [("doc", true), ("query", false)] {
            let batch = try Self.inputs(ref, prefix: prefix, pixels: withPixels ? pixels : nil)
            var stages: [String: Matrix] = [:]
            let outputs = try net.forward(batch.map(\.0)) { name, matrix in
                stages[name] = Matrix(rows: matrix.rows, cols: matrix.cols, values: matrix.allValues)
            }
            let positions = batch.flatMap(\.1)
            var checked = ["embeddings", "lm.norm", "lm.inputs_embeds"] + (0..<net.configuration.text.layers).map { "lm.layer.\($0)" }
            if withPixels {
                checked += ["vision.embeddings", "vision.post_layernorm", "projector"]
                    + (0..<net.configuration.vision.layers).map { "vision.layer.\($0)" }
            }
            for stage in checked {
                let ours = try #require(stages[stage], "stage \(stage) not recorded")
                let expected = try ref.floats("\(prefix).\(stage)")
                // Vision stages have no text rows: every row counts.
                let wanted = stage.hasPrefix("vision") || stage == "projector"
                    ? expected : Self.rows(expected, width: ours.cols, positions: positions)
                let scale = max(1, wanted.map(abs).max() ?? 1)
                let worst = Self.maxDifference(ours.allValues, wanted)
                #expect(worst <= 1e-4 * scale, "\(model) \(prefix).\(stage): max difference \(worst) (values up to \(scale))")
            }
            // End to end, per item, at 1e-4 absolute.
            let expected = try ref.floats("\(prefix).embeddings")
            for ((_, rows), output) in zip(batch, outputs) {
                let worst = Self.maxDifference(output.values, Self.rows(expected, width: 128, positions: rows))
                #expect(worst <= 1e-4, "\(model) \(prefix) embeddings: \(worst)")
            }
        }
    }

    @Test func transformersCheckpointStageByStage() async throws {
        try await checkStages(model: "hf-fp32", reference: "hf.safetensors", pixelsFrom: "hf.safetensors")
    }

    @Test func loraMergedEngineCheckpointStageByStage() async throws {
        try await checkStages(model: "engine-adapter", reference: "engine.safetensors", pixelsFrom: "hf.safetensors")
    }

    func scores(_ queries: [MultiVector], _ documents: [MultiVector]) -> [Float] {
        queries.flatMap { q in
            documents.map { d in
                var score: Float = 0
                _ = colpali_maxsim(q.values, Int32(q.rows), d.values, Int32(d.rows), Int32(d.dim), &score)
                return score
            }
        }
    }

    @Test(arguments: [("hf-fp32", "hf.safetensors"), ("engine-adapter", "engine.safetensors"), ("hf-bf16", "hf-bf16.safetensors")])
    func batchedAndUnbatchedEmbeddingsAndScores(model: String, reference: String) async throws {
        let net = try await Self.model(model)
        let ref = try Self.reference(reference)
        let pixels = try Self.reference("hf.safetensors")
        let documents = try Self.inputs(ref, prefix: "doc", pixels: pixels)
        let queries = try Self.inputs(ref, prefix: "query", pixels: nil)
        // Mixed batch: documents and queries together.
        let all = try net.forward(documents.map(\.0) + queries.map(\.0))
        let docOut = Array(all.prefix(documents.count)), queryOut = Array(all.suffix(queries.count))
        // Every fixture has the batch outputs: each item's rows (padding
        // removed) are the reference for it, alone and in the mixed batch.
        // Fixtures that also dumped items one by one are checked against those too.
        let docReference = try ref.floats("doc.embeddings"), queryReference = try ref.floats("query.embeddings")
        for (label, items, outputs, reference) in [("doc", documents, docOut, docReference), ("query", queries, queryOut, queryReference)] {
            #expect(outputs.count == items.count)
            for (index, (input, positions)) in items.enumerated() {
                let single = try net.forward([input])[0]
                let expectedRows = Self.rows(reference, width: 128, positions: positions)
                #expect(Self.maxDifference(single.values, outputs[index].values) <= 1e-5)
                #expect(Self.maxDifference(single.values, expectedRows) <= 1e-4, "\(label) \(index) of \(model)")
                if let dumped = ref.file["\(label).single.\(index).embeddings"] {
                    #expect(Self.maxDifference(single.values, ref.file.floats(dumped)) <= 1e-4)
                }
                #expect(single.patchRows == (label == "doc" ? net.configuration.imageTokens : 0))
            }
        }
        #expect((ref.file["doc.single.0.embeddings"] != nil) == (model != "hf-bf16"), "which fixtures dump items one by one changed")
        let expected = try ref.floats("scores")
        let ours = scores(queryOut, docOut)
        #expect(ours.count == expected.count && expected.count == queries.count * documents.count)
        for (ours, theirs) in zip(ours, expected) {
            #expect(abs(ours - theirs) <= 1e-4 * max(1, abs(theirs)), "score \(ours) vs \(theirs)")
        }
    }

    @Test func bf16ModeIsCloseAndRanksTheSame() async throws {
        let exact = try await Self.model("hf-fp32", precision: .fp32)
        let fast = try await Self.model("hf-fp32", precision: .bf16)
        let ref = try Self.reference("hf.safetensors")
        let inputs = try Self.inputs(ref, prefix: "doc", pixels: ref).map(\.0) + Self.inputs(ref, prefix: "query", pixels: nil).map(\.0)
        let a = try exact.forward(inputs), b = try fast.forward(inputs)
        var worstCosine: Float = 1
        for (x, y) in zip(a, b) {
            for row in 0..<x.rows {
                let u = x.row(row), v = y.row(row)
                let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                let norms = (u.reduce(0) { $0 + $1 * $1 } * v.reduce(0) { $0 + $1 * $1 }).squareRoot()
                worstCosine = min(worstCosine, dot / norms)
            }
        }
        #expect(worstCosine >= 0.999, "worst per-token cosine \(worstCosine)")
        let exactScores = scores(Array(a.suffix(3)), Array(a.prefix(2)))
        let fastScores = scores(Array(b.suffix(3)), Array(b.prefix(2)))
        for q in 0..<3 {
            let rankA = (0..<2).sorted { exactScores[q * 2 + $0] > exactScores[q * 2 + $1] }
            let rankB = (0..<2).sorted { fastScores[q * 2 + $0] > fastScores[q * 2 + $1] }
            #expect(rankA == rankB)
        }
    }

    @Test func publicAPIEmbedsImagesAndQueries() async throws {
        let net = try await Self.model("hf-fp32")
        let image = try RGBImage.load(contentsOf: Fixtures.image("doc0.png"))
        let pages = try net.embedDocuments([image], format: .transformers)
        let ref = try Self.reference("hf.safetensors")
        #expect(Self.maxDifference(pages[0].values, try ref.floats("doc.single.0.embeddings")) <= 1e-4)
        let queries = try net.embedQueries(["What is shown?"], format: .transformers)
        #expect(Self.maxDifference(queries[0].values, try ref.floats("query.single.0.embeddings")) <= 1e-4)
        #expect(throws: ProcessorError.self) { try net.embedQueries([""], format: .transformers) }
    }
}
