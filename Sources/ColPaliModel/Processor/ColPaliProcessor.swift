import Foundation

/// One model input: token ids (with `<image>` placeholders for documents),
/// the attention mask, and pixel values for documents.
public struct ModelInput: Sendable {
    public var inputIds: [Int]
    public var attentionMask: [Int]
    /// [3, size, size] for a document, nil for a query.
    public var pixelValues: [Float]?
}

public enum ProcessorError: Error, CustomStringConvertible, Sendable {
    case emptyQuery

    public var description: String {
        switch self {
        case .emptyQuery: return "the query is empty"
        }
    }
}

/// Builds model inputs the way the reference processors do: the prompt as
/// text (`<image>` x N, `<bos>` spelled out), tokenized, every position
/// attended (padding is the batch's business, defined by the mask).
public struct ColPaliProcessor: Sendable {
    public let tokenizer: GemmaTokenizer
    public let imageProcessor: ImageProcessor
    public let imageTokens: Int
    public let imageToken: String

    public init(tokenizer: GemmaTokenizer, imageProcessor: ImageProcessor, imageTokens: Int, imageToken: String = "<image>") {
        self.tokenizer = tokenizer
        self.imageProcessor = imageProcessor
        self.imageTokens = imageTokens
        self.imageToken = imageToken
    }

    public func documentIds(format: PromptFormat) -> [Int] {
        tokenizer.encode(String(repeating: imageToken, count: imageTokens) + format.documentSuffix)
    }

    public func document(_ image: RGBImage, format: PromptFormat) -> ModelInput {
        let ids = documentIds(format: format)
        return ModelInput(inputIds: ids, attentionMask: Array(repeating: 1, count: ids.count),
                          pixelValues: imageProcessor.pixelValues(image))
    }

    /// A query's input. Empty (or whitespace-only) queries are refused: the
    /// reference would embed only the prompt, which matches nothing useful.
    public func query(_ text: String, format: PromptFormat) throws -> ModelInput {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ProcessorError.emptyQuery }
        return rawQuery(text, format: format)
    }

    /// Exactly what the reference processors build, the empty query included.
    public func rawQuery(_ text: String, format: PromptFormat) -> ModelInput {
        let ids = tokenizer.encode(format.queryText(text))
        return ModelInput(inputIds: ids, attentionMask: Array(repeating: 1, count: ids.count), pixelValues: nil)
    }
}
