import Foundation

/// One model input: token ids (with `<image>` placeholders for documents)
/// and pixel values for documents. Every token is attended: inputs are never
/// padded (a batch is ragged), so there is no attention mask.
package struct ModelInput: Sendable {
    package var inputIds: [Int]
    /// [3, size, size] for a document, nil for a query.
    package var pixelValues: [Float]?

    package init(inputIds: [Int], pixelValues: [Float]? = nil) {
        self.inputIds = inputIds
        self.pixelValues = pixelValues
    }
}

public enum ProcessorError: Error, CustomStringConvertible, Sendable, Equatable {
    case emptyQuery
    /// Longer than ColPaliProcessor.maximumQueryCharacters or maximumQueryTokens.
    case queryTooLong(characters: Int, tokens: Int?)

    public var description: String {
        switch self {
        case .emptyQuery: return "the query is empty"
        case .queryTooLong(let characters, let tokens):
            let size = tokens.map { "\($0) tokens" } ?? "\(characters) characters"
            return "the query is \(size) long; at most \(ColPaliProcessor.maximumQueryTokens) tokens "
                + "(and \(ColPaliProcessor.maximumQueryCharacters) characters) are accepted"
        }
    }
}

/// Builds model inputs the way the reference processors do: the prompt as
/// text (`<image>` x N, `<bos>` spelled out), tokenized.
package struct ColPaliProcessor: Sendable {
    package let tokenizer: GemmaTokenizer
    package let imageProcessor: ImageProcessor
    package let imageTokens: Int
    package let imageToken: String
    /// A document's prompt is the same for every page: tokenized once per format.
    private let documentIdsByFormat: [PromptFormat: [Int]]

    package init(tokenizer: GemmaTokenizer, imageProcessor: ImageProcessor, imageTokens: Int, imageToken: String = "<image>") {
        self.tokenizer = tokenizer
        self.imageProcessor = imageProcessor
        self.imageTokens = imageTokens
        self.imageToken = imageToken
        documentIdsByFormat = Dictionary(uniqueKeysWithValues: PromptFormat.allCases.map { format in
            (format, tokenizer.encode(String(repeating: imageToken, count: imageTokens) + format.documentSuffix))
        })
    }

    package func documentIds(format: PromptFormat) -> [Int] { documentIdsByFormat[format]! }

    package func document(_ image: RGBImage, format: PromptFormat) -> ModelInput {
        ModelInput(inputIds: documentIds(format: format), pixelValues: imageProcessor.pixelValues(image))
    }

    /// Query tokens the model is given at most, prompt included. Attention
    /// costs grow with the square of the length (a 25,000-token question
    /// needed 15 GB); ColPali was trained on short questions (colpali-engine
    /// pads them to 50 tokens), and 256 leaves room for a paragraph.
    package static let maximumQueryTokens = 256
    /// Checked before tokenizing, so a megabyte of text costs nothing.
    package static let maximumQueryCharacters = 4_096

    /// A query's input. Empty (or whitespace-only) queries are refused: the
    /// reference would embed only the prompt, which matches nothing useful.
    /// So are queries over the length limits.
    package func query(_ text: String, format: PromptFormat) throws -> ModelInput {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ProcessorError.emptyQuery }
        let characters = text.unicodeScalars.count
        guard characters <= Self.maximumQueryCharacters else { throw ProcessorError.queryTooLong(characters: characters, tokens: nil) }
        let input = rawQuery(text, format: format)
        guard input.inputIds.count <= Self.maximumQueryTokens else {
            throw ProcessorError.queryTooLong(characters: characters, tokens: input.inputIds.count)
        }
        return input
    }

    /// Exactly what the reference processors build, the empty query included.
    package func rawQuery(_ text: String, format: PromptFormat) -> ModelInput {
        ModelInput(inputIds: tokenizer.encode(format.queryText(text)))
    }
}
