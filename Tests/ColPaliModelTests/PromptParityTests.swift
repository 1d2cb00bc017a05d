@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

/// Input ids and attention masks equal to the reference processors', per format.
struct PromptParityTests {
    struct Entry: Decodable {
        struct Input: Decodable {
            let input_ids: [Int]
            let attention_mask: [Int]
        }
        struct Query: Decodable {
            let text: String
            let input_ids: [Int]
            let attention_mask: [Int]
        }
        let document: Input
        let queries: [Query]
    }

    @Test(arguments: PromptFormat.allCases)
    func matchesReference(format: PromptFormat) async throws {
        let data = try Data(contentsOf: Fixtures.reference("prompts.json"))
        let all = try JSONDecoder().decode([String: Entry].self, from: data)
        let entry = try #require(all[format.rawValue])
        let model = try await ColPaliCheckpoint.load(Fixtures.model("hf-fp32").path, locator: CheckpointLoadingTests.offline)
        let image = try RGBImage.load(contentsOf: Fixtures.image("doc0.png"))
        let document = model.processor.document(image, format: format)
        #expect(document.inputIds == entry.document.input_ids)
        // The reference attends every position of an unpadded input: no mask needed.
        #expect(entry.document.attention_mask == Array(repeating: 1, count: document.inputIds.count))
        for query in entry.queries {
            let input = model.processor.rawQuery(query.text, format: format)
            #expect(input.inputIds == query.input_ids, "\(query.text)")
            #expect(query.attention_mask == Array(repeating: 1, count: input.inputIds.count))
        }
        #expect(throws: ProcessorError.self) { try model.processor.query("  ", format: format) }
    }

    /// Attention costs grow with the square of the query: long questions are
    /// refused (by characters before tokenizing, then by tokens).
    @Test func queriesOverTheLengthLimitsAreRefusedQuickly() async throws {
        let model = try await ColPaliCheckpoint.load(Fixtures.model("hf-fp32").path, locator: CheckpointLoadingTests.offline)
        // Refused by its characters, before the tokenizer ran (tokens: nil).
        let huge = String(repeating: "revenue ", count: 12_500)
        #expect(throws: ProcessorError.queryTooLong(characters: 100_000, tokens: nil)) {
            try model.processor.query(huge, format: .transformers)
        }
        // Under the character limit, over the token limit: the tokens are counted.
        let long = String(repeating: "revenue ", count: 300)
        do {
            _ = try model.processor.query(long, format: .transformers)
            Issue.record("a 300-word query was accepted")
        } catch ProcessorError.queryTooLong(let characters, let tokens) {
            #expect(characters == 2_400)
            #expect((tokens ?? 0) > ColPaliProcessor.maximumQueryTokens)
        }
        // Up to the limit is fine, one word more is not.
        var words = 1
        while model.processor.rawQuery(String(repeating: "revenue ", count: words + 1), format: .transformers).inputIds.count
            <= ColPaliProcessor.maximumQueryTokens { words += 1 }
        #expect(try model.processor.query(String(repeating: "revenue ", count: words), format: .transformers).inputIds.count
            <= ColPaliProcessor.maximumQueryTokens)
        #expect(throws: ProcessorError.self) {
            try model.processor.query(String(repeating: "revenue ", count: words + 1), format: .transformers)
        }
    }
}
