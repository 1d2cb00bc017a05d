import Foundation

/// The weights of a ColPali model, checked against its configuration: a
/// checkpoint, plus an optional LoRA adapter merged tensor by tensor as the
/// network asks for them (so no second full copy is ever held).
package final class ModelWeights: @unchecked Sendable {
    package let configuration: ColPaliConfiguration
    package let checkpoint: Checkpoint
    package let adapter: LoRAAdapter?
    let shapes: [String: [Int]]

    package init(configuration: ColPaliConfiguration, checkpoint: Checkpoint, adapter: LoRAAdapter? = nil) throws {
        self.configuration = configuration
        self.checkpoint = checkpoint
        self.adapter = adapter
        shapes = ExpectedTensors.shapes(for: configuration)
        let directory = checkpoint.directory.path
        for name in checkpoint.names.sorted() where shapes[name] == nil {
            throw CheckpointError.unexpectedTensor(name, in: directory)
        }
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            let actual = try checkpoint.shape(name)
            if actual != shape {
                throw CheckpointError.wrongShape(tensor: name, expected: shape, actual: actual)
            }
        }
        if let adapter {
            for name in adapter.updates.keys.sorted() where shapes[name] == nil {
                throw CheckpointError.invalidAdapter(
                    directory: adapter.directory.path, reason: "it updates '\(name)', which the base model does not have")
            }
            for (name, entry) in adapter.replacements.sorted(by: { $0.key < $1.key }) {
                guard let shape = shapes[name] else {
                    throw CheckpointError.invalidAdapter(
                        directory: adapter.directory.path, reason: "it replaces '\(name)', which the base model does not have")
                }
                guard entry.info.shape == shape else {
                    throw CheckpointError.wrongShape(tensor: name, expected: shape, actual: entry.info.shape)
                }
            }
        }
    }

    package func shape(_ name: String) throws -> [Int] {
        guard let shape = shapes[name] else { throw CheckpointError.missingTensor(name, in: checkpoint.directory.path) }
        return shape
    }

    /// A float32 copy of a tensor, with the adapter's update merged in.
    package func floats(_ name: String) throws -> [Float] {
        let shape = try shape(name)
        var values: [Float]
        if let replacement = adapter?.replacements[name] {
            values = replacement.file.floats(replacement.info)
        } else {
            values = try checkpoint.floats(name)
        }
        try adapter?.merge(into: &values, name: name, shape: shape)
        return values
    }

    /// The stored entry when it can be used as it is (no adapter change).
    package func storedEntry(_ name: String) throws -> Checkpoint.Entry? {
        if adapter?.updates[name] != nil || adapter?.replacements[name] != nil { return nil }
        return try checkpoint.require(name)
    }

    /// After a tensor has been converted into the network's own layout, let
    /// the kernel drop its mapped pages.
    package func release(_ name: String) {
        if let entry = checkpoint[name] { entry.file.release(entry.info) }
    }
}
