import Foundation

/// The weights of a model directory: one `model.safetensors`, or shards
/// listed by `model.safetensors.index.json`, addressed by canonical names.
package final class Checkpoint: @unchecked Sendable {
    package struct Entry: @unchecked Sendable {
        package let file: SafeTensorsFile
        package let info: SafeTensorsFile.TensorInfo
    }

    package let directory: URL
    package private(set) var entries: [String: Entry]
    package let files: [SafeTensorsFile]

    package init(directory: URL, weightsFile: String = "model.safetensors") throws {
        self.directory = directory
        let manager = FileManager.default
        let indexURL = directory.appendingPathComponent(weightsFile + ".index.json")
        let single = directory.appendingPathComponent(weightsFile)
        var files: [SafeTensorsFile] = []
        if manager.fileExists(atPath: indexURL.path) {
            let data = try Data(contentsOf: indexURL)
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let weightMap = object["weight_map"] as? [String: String] else {
                throw CheckpointError.invalidHeader(file: indexURL.path, reason: "no weight_map object")
            }
            for shard in Set(weightMap.values).sorted() {
                let url = directory.appendingPathComponent(shard)
                guard manager.fileExists(atPath: url.path) else {
                    throw CheckpointError.missingShard(index: indexURL.path, shard: shard)
                }
                files.append(try SafeTensorsFile(url: url))
            }
            // Every tensor the index promises must be in the shard it names.
            let byName = Dictionary(uniqueKeysWithValues: files.map { ($0.url.lastPathComponent, $0) })
            for (tensor, shard) in weightMap where byName[shard]?[tensor] == nil {
                throw CheckpointError.missingTensor(tensor, in: directory.appendingPathComponent(shard).path)
            }
        } else if manager.fileExists(atPath: single.path) {
            files.append(try SafeTensorsFile(url: single))
        } else {
            throw CheckpointError.notAColPaliCheckpoint(
                directory: directory.path, reason: "no \(weightsFile) or \(weightsFile).index.json")
        }
        self.files = files
        var entries: [String: Entry] = [:]
        for file in files {
            for (name, info) in file.tensors {
                guard let canonical = WeightNames.canonical(name) else { continue }
                if entries[canonical] != nil {
                    throw CheckpointError.invalidHeader(file: file.url.path, reason: "tensor '\(name)' appears twice")
                }
                entries[canonical] = Entry(file: file, info: info)
            }
        }
        self.entries = entries
    }

    package subscript(name: String) -> Entry? { entries[name] }

    package var names: Set<String> { Set(entries.keys) }

    package func require(_ name: String) throws -> Entry {
        guard let entry = entries[name] else { throw CheckpointError.missingTensor(name, in: directory.path) }
        return entry
    }

    /// A float32 copy of a tensor.
    package func floats(_ name: String) throws -> [Float] {
        let entry = try require(name)
        return entry.file.floats(entry.info)
    }

    package func shape(_ name: String) throws -> [Int] { try require(name).info.shape }
}
