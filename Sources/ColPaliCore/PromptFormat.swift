/// How documents and queries are turned into model input text. A checkpoint
/// is embedded with the format it was trained with; the names follow the
/// software that defined each format.
public enum PromptFormat: String, Sendable, CaseIterable, Codable {
    /// transformers' ColPaliProcessor (4.47 to 5.x); also what colpali-engine
    /// 0.3.0-0.3.3 built: the default for every checkpoint, ColPali v1.2 included.
    case transformers
    /// colpali-engine 0.3.4 - 0.3.6 (transformers 4.46: one `<bos>` after the image).
    case engine_0_3_4 = "engine-0.3.4"
    /// colpali-engine 0.3.7 - 0.3.10 (transformers 4.47+ adds a second `<bos>`).
    case engine_0_3_7 = "engine-0.3.7"
    /// colpali-engine 0.3.11 - 0.3.12.
    case engine_0_3_11 = "engine-0.3.11"
    /// colpali-engine 0.3.13 and later.
    case engine_0_3_13 = "engine-0.3.13"

    /// Query augmentation: ten `<pad>` tokens the model attends to.
    static let augmentation = String(repeating: "<pad>", count: 10)

    /// Text after the `<image>` tokens of a document prompt.
    public var documentSuffix: String {
        switch self {
        case .transformers, .engine_0_3_4: return "<bos>Describe the image.\n"
        case .engine_0_3_7, .engine_0_3_11, .engine_0_3_13: return "<bos><bos>Describe the image.\n"
        }
    }

    public func queryText(_ query: String) -> String {
        switch self {
        case .transformers: return "<bos>Question: \(query)" + Self.augmentation + "\n"
        case .engine_0_3_4, .engine_0_3_7: return "<bos>Query: \(query)" + Self.augmentation + "\n"
        case .engine_0_3_11: return "<bos>Query: \(query)" + Self.augmentation
        case .engine_0_3_13: return "<bos>\(query)" + Self.augmentation
        }
    }

    /// transformers composites transparency onto white; colpali-engine
    /// converts to RGB (dropping alpha) before that step.
    public var alphaHandling: AlphaHandling {
        self == .transformers ? .compositeOnWhite : .dropAlpha
    }
}

/// What to do with transparency when converting to RGB. transformers 5.x
/// composites transparent pixels onto white; colpali-engine first calls
/// Pillow's `convert("RGB")`, which drops an alpha channel (a colour key
/// still ends up composited by the transformers step that follows).
public enum AlphaHandling: String, Sendable, CaseIterable {
    case compositeOnWhite
    case dropAlpha
}
