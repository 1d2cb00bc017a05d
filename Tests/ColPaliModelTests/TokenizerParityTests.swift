@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

/// Id-for-id parity with the Hugging Face tokenizers library.
struct TokenizerParityTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
    }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizer/cases.json"))
        return try! JSONDecoder().decode([Case].self, from: data)
    }()

    @Test(arguments: ["tokenizer/tokenizer.json", "models/hf-legacy/tokenizer.json", "models/engine-adapter/tokenizer.json"])
    func everyCaseMatches(file: String) throws {
        let tokenizer = try GemmaTokenizer(url: Fixtures.root.appendingPathComponent(file))
        #expect(Self.cases.count > 300)
        var failures = 0
        for item in Self.cases {
            let ids = tokenizer.encode(item.text)
            if ids != item.ids {
                failures += 1
                if failures <= 5 { Issue.record("\(item.text.debugDescription.prefix(80)): \(ids.prefix(20)) != \(item.ids.prefix(20))") }
            }
        }
        #expect(failures == 0)
    }

    @Test func specialTokensAndIds() throws {
        let tokenizer = try GemmaTokenizer(url: Fixtures.tokenizer)
        #expect(tokenizer.encode("<bos>") == [2])
        #expect(tokenizer.encode("<image><image>") == [1711, 1711])
        #expect(tokenizer.encode("\n") == [262])
        #expect(tokenizer.encode("") == [])
        #expect(tokenizer.id(of: "<pad>") == 0)
    }

    /// A long input is tokenized whole: the tokens spell the text back,
    /// byte for byte. (Its speed is the benchmark's business, not a test's.)
    @Test func longInputsAreTokenizedWhole() throws {
        let tokenizer = try GemmaTokenizer(url: Fixtures.tokenizer)
        let text = String(repeating: "The quarterly revenue table, café 東京 🎉 ", count: 2500)
        let ids = tokenizer.encode(text)
        #expect(ids.count > 10000)
        var bytes: [UInt8] = []
        for id in ids {
            let token = try #require(tokenizer.token(for: id))
            if token.hasPrefix("<0x"), token.hasSuffix(">"), let byte = UInt8(token.dropFirst(3).dropLast(), radix: 16) {
                bytes.append(byte)
            } else {
                bytes += Array(token.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
            }
        }
        #expect(bytes == Array(text.utf8))
    }
}
