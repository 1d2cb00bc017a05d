import Foundation

/// The Gemma / PaliGemma tokenizer, read from a Hugging Face `tokenizer.json`.
///
/// The pipeline is the tokenizers library's: split out added tokens whose
/// `normalized` flag is false on the raw text; normalize the rest (" " becomes
/// "▁"; no dummy prefix); split out the normalized added tokens; pre-tokenize
/// (Gemma's is none, or a Split on " " that the normalizer made a no-op); run
/// BPE on each piece. No special tokens are added: ColPali prompts spell out
/// `<bos>` as text.
package struct GemmaTokenizer: Sendable {
    let model: BPEModel
    let rawAddedTokens: AddedTokenMatcher
    let normalizedAddedTokens: AddedTokenMatcher
    let normalizer: [(pattern: String, content: String)]
    let splitPattern: String?
    private let tokensByID: [Int: String]

    package init(url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.invalidFile(file, reason: error.localizedDescription)
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidFile(file, reason: "no model object")
        }
        guard (model["type"] as? String ?? "BPE") == "BPE" else {
            throw TokenizerError.unsupported(file, feature: "model type \(model["type"] ?? "?")")
        }
        if let dropout = model["dropout"] as? Double, dropout > 0 {
            throw TokenizerError.unsupported(file, feature: "BPE dropout")
        }
        if let prefix = model["continuing_subword_prefix"] as? String, !prefix.isEmpty {
            throw TokenizerError.unsupported(file, feature: "continuing_subword_prefix")
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw TokenizerError.invalidFile(file, reason: "no vocab")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabObject.count)
        for (token, id) in vocabObject {
            guard let id = (id as? NSNumber)?.intValue else { throw TokenizerError.invalidFile(file, reason: "bad id for '\(token)'") }
            vocab[token] = id
        }
        // Merges are "a b" strings (older files) or ["a", "b"] pairs (tokenizers >= 0.20).
        var merges: [(String, String)] = []
        for entry in (model["merges"] as? [Any]) ?? [] {
            if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let text = entry as? String, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw TokenizerError.invalidFile(file, reason: "malformed merge \(entry)")
            }
        }

        var raw: [(String, Int)] = []
        var normalized: [(String, Int)] = []
        for case let token as [String: Any] in (root["added_tokens"] as? [Any]) ?? [] {
            guard let content = token["content"] as? String, let id = (token["id"] as? NSNumber)?.intValue else { continue }
            vocab[content] = vocab[content] ?? id
            if (token["normalized"] as? Bool) == true { normalized.append((content, id)) } else { raw.append((content, id)) }
        }

        self.model = try BPEModel(
            vocab: vocab, merges: merges, unknownToken: model["unk_token"] as? String,
            byteFallback: (model["byte_fallback"] as? Bool) ?? false, fuseUnknown: (model["fuse_unk"] as? Bool) ?? false,
            ignoreMerges: (model["ignore_merges"] as? Bool) ?? false, file: file)
        rawAddedTokens = AddedTokenMatcher(raw)
        normalizedAddedTokens = AddedTokenMatcher(normalized)
        normalizer = try Self.replacements(root["normalizer"], file: file)
        splitPattern = try Self.splitPattern(root["pre_tokenizer"], file: file)
        tokensByID = Dictionary(vocab.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
    }

    /// Token ids of `text`, with no special tokens added.
    package func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in rawAddedTokens.split(Substring(text).unicodeScalars) {
            switch piece {
            case .token(let id):
                ids.append(id)
            case .text(let segment):
                let normalizedText = normalize(String(segment))
                for inner in normalizedAddedTokens.split(Substring(normalizedText).unicodeScalars) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let words): for word in preTokenize(words) { model.encode(word, into: &ids) }
                    }
                }
            }
        }
        return ids
    }

    package func id(of token: String) -> Int? { model.vocab[token] }

    /// The token string of an id ("▁revenue", "<bos>"), for labels.
    package func token(for id: Int) -> String? { tokensByID[id] }

    func normalize(_ text: String) -> String {
        normalizer.reduce(text) { $0.replacingOccurrences(of: $1.pattern, with: $1.content) }
    }

    /// Gemma files have no pre-tokenizer, or `Split(" ", MergedWithPrevious)`:
    /// each piece ends with its delimiter.
    func preTokenize(_ text: Substring.UnicodeScalarView) -> [Substring.UnicodeScalarView] {
        guard let pattern = splitPattern, let delimiter = pattern.unicodeScalars.first, pattern.unicodeScalars.count == 1 else {
            return [text]
        }
        var pieces: [Substring.UnicodeScalarView] = []
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            let next = text.index(after: i)
            if text[i] == delimiter {
                pieces.append(text[start..<next])
                start = next
            }
            i = next
        }
        if start < text.endIndex { pieces.append(text[start..<text.endIndex]) }
        return pieces
    }

    private static func replacements(_ value: Any?, file: String) throws -> [(pattern: String, content: String)] {
        guard let object = value as? [String: Any] else { return [] }
        switch object["type"] as? String {
        case "Replace":
            guard let pattern = (object["pattern"] as? [String: Any])?["String"] as? String,
                  let content = object["content"] as? String else {
                throw TokenizerError.unsupported(file, feature: "Replace normalizer with a regex pattern")
            }
            return [(pattern, content)]
        case "Sequence":
            return try ((object["normalizers"] as? [Any]) ?? []).flatMap { try replacements($0, file: file) }
        case "Prepend":
            throw TokenizerError.unsupported(file, feature: "Prepend normalizer (dummy prefix)")
        case let other:
            throw TokenizerError.unsupported(file, feature: "normalizer \(other ?? "?")")
        }
    }

    private static func splitPattern(_ value: Any?, file: String) throws -> String? {
        guard let object = value as? [String: Any] else { return nil }
        guard object["type"] as? String == "Split",
              let pattern = (object["pattern"] as? [String: Any])?["String"] as? String,
              object["behavior"] as? String == "MergedWithPrevious",
              (object["invert"] as? Bool) != true else {
            throw TokenizerError.unsupported(file, feature: "pre_tokenizer \(object["type"] ?? "?")")
        }
        return pattern
    }
}
