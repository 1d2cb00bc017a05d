public enum HubError: Error, CustomStringConvertible, Sendable {
    case invalidReference(String)
    case offlineAndMissing(model: String, cache: String, missing: [String])
    case unreachable(endpoint: String, reason: String)
    case notFound(model: String, file: String)
    case unauthorized(model: String, status: Int)
    case httpStatus(model: String, file: String, status: Int)
    case checksumMismatch(file: String, expected: String, actual: String)
    case incompleteDownload(file: String, expected: Int, received: Int)
    case localPathMissing(String)

    public var description: String {
        switch self {
        case .invalidReference(let text):
            return "'\(text)' is neither a model directory nor a Hugging Face model id (org/name[@revision])"
        case .offlineAndMissing(let model, let cache, let missing):
            return "model \(model) is not complete in the Hugging Face cache (\(cache)) and HF_HUB_OFFLINE=1 forbids downloading; missing: \(missing.joined(separator: ", "))"
        case .unreachable(let endpoint, let reason):
            return "cannot reach the Hugging Face Hub at \(endpoint) (\(reason)): check the network or HF_ENDPOINT, or put the model in the cache and set HF_HUB_OFFLINE=1"
        case .notFound(let model, let file):
            return "the Hub has no \(file) for model \(model): check the model id and revision"
        case .unauthorized(let model, let status):
            return "the Hub refused access to \(model) (HTTP \(status)): the model may be gated or private; set HF_TOKEN to a token with access"
        case .httpStatus(let model, let file, let status):
            return "downloading \(file) of \(model) failed with HTTP \(status)"
        case .checksumMismatch(let file, let expected, let actual):
            return "downloaded \(file) has SHA-256 \(actual.prefix(16))..., the Hub says \(expected.prefix(16))...; the partial download was removed, try again"
        case .incompleteDownload(let file, let expected, let received):
            return "download of \(file) stopped after \(received) of \(expected) bytes; run again to resume"
        case .localPathMissing(let path):
            return "model directory \(path) does not exist"
        }
    }
}
