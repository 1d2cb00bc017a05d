/// Problems with a checkpoint file, each naming the file and, where there is
/// one, the tensor.
public enum CheckpointError: Error, CustomStringConvertible, Sendable {
    case unreadable(file: String, reason: String)
    case truncated(file: String, reason: String)
    case invalidHeader(file: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case offsetsOutOfRange(file: String, tensor: String, offsets: [Int], dataSize: Int)
    case shapeMismatch(file: String, tensor: String, shape: [Int], dtype: String, bytes: Int)
    case missingShard(index: String, shard: String)
    case missingTensor(String, in: String)
    case unexpectedTensor(String, in: String)
    case wrongShape(tensor: String, expected: [Int], actual: [Int])
    case notAColPaliCheckpoint(directory: String, reason: String)
    case invalidConfiguration(file: String, reason: String)
    case invalidAdapter(directory: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "cannot read \(file): \(reason)"
        case .truncated(let file, let reason):
            return "\(file) is truncated: \(reason)"
        case .invalidHeader(let file, let reason):
            return "\(file) is not a valid safetensors file: \(reason)"
        case .unknownDType(let file, let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case .offsetsOutOfRange(let file, let tensor, let offsets, let size):
            return "\(file): tensor '\(tensor)' has data offsets \(offsets) outside the \(size)-byte data section"
        case .shapeMismatch(let file, let tensor, let shape, let dtype, let bytes):
            return "\(file): tensor '\(tensor)' is \(dtype) \(shape) but has \(bytes) bytes of data"
        case .missingShard(let index, let shard):
            return "\(index) lists shard '\(shard)', which does not exist"
        case .missingTensor(let name, let directory):
            return "checkpoint \(directory) has no tensor '\(name)'"
        case .unexpectedTensor(let name, let directory):
            return "checkpoint \(directory) has an unexpected tensor '\(name)' (is it a ColPali checkpoint of this architecture?)"
        case .wrongShape(let tensor, let expected, let actual):
            return "tensor '\(tensor)' has shape \(actual), the configuration implies \(expected)"
        case .notAColPaliCheckpoint(let directory, let reason):
            return "\(directory) is not a ColPali checkpoint: \(reason)"
        case .invalidConfiguration(let file, let reason):
            return "\(file): \(reason)"
        case .invalidAdapter(let directory, let reason):
            return "LoRA adapter \(directory): \(reason)"
        }
    }
}
