public enum TokenizerError: Error, CustomStringConvertible, Sendable {
    case invalidFile(String, reason: String)
    case unsupported(String, feature: String)

    public var description: String {
        switch self {
        case .invalidFile(let file, let reason): return "\(file) is not a usable tokenizer.json: \(reason)"
        case .unsupported(let file, let feature): return "\(file): unsupported tokenizer feature: \(feature)"
        }
    }
}
