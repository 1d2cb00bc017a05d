import COpenBLAS
import Foundation

/// A PEFT LoRA adapter (`adapter_config.json` + `adapter_model.safetensors`),
/// as colpali-engine publishes ColPali (e.g. `vidore/colpali-v1.2`). Merged
/// into the base at load time: W' = W + scale * B @ A, with scale = alpha / r
/// (alpha / sqrt(r) with rslora). Biases are unchanged.
package final class LoRAAdapter: @unchecked Sendable {
    package struct Pair {
        package let a: Checkpoint.Entry  // [r, in]
        package let b: Checkpoint.Entry  // [out, r]
        package let scale: Float
    }

    package let directory: URL
    package let baseModel: String
    package let rank: Int
    package let alpha: Double
    package let useRSLoRA: Bool
    /// Canonical base tensor name (`...q_proj.weight`) -> its low-rank update.
    package let updates: [String: Pair]
    /// Whole tensors the adapter replaces (PEFT `modules_to_save`).
    package let replacements: [String: Checkpoint.Entry]

    package static func isAdapter(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent("adapter_config.json").path)
    }

    package init(directory: URL) throws {
        self.directory = directory
        let config = try JSONObject.load(directory.appendingPathComponent("adapter_config.json"))
        func fail(_ reason: String) -> CheckpointError { .invalidAdapter(directory: directory.path, reason: reason) }
        if let type = config.string("peft_type"), type != "LORA" { throw fail("peft_type \(type) is not supported, only LORA") }
        if (config.values["use_dora"] as? Bool) == true { throw fail("DoRA adapters are not supported") }
        if (config.values["fan_in_fan_out"] as? Bool) == true { throw fail("fan_in_fan_out adapters are not supported") }
        guard let base = config.string("base_model_name_or_path"), !base.isEmpty else {
            throw fail("adapter_config.json has no base_model_name_or_path")
        }
        baseModel = base
        rank = try config.int("r", default: 8)
        alpha = try config.double("lora_alpha", default: 8)
        useRSLoRA = (config.values["use_rslora"] as? Bool) ?? false
        let rankPattern = (config.values["rank_pattern"] as? [String: NSNumber]) ?? [:]
        let alphaPattern = (config.values["alpha_pattern"] as? [String: NSNumber]) ?? [:]

        let weights = try Checkpoint(directory: directory, weightsFile: "adapter_model.safetensors")
        var a: [String: Checkpoint.Entry] = [:]
        var b: [String: Checkpoint.Entry] = [:]
        var replacements: [String: Checkpoint.Entry] = [:]
        for (name, entry) in weights.entries {
            // PEFT files drop the adapter name; in-memory names keep ".default".
            let plain = name.replacingOccurrences(of: ".default.", with: ".")
            if let range = plain.range(of: ".lora_A.weight") {
                a[String(plain[..<range.lowerBound])] = entry
            } else if let range = plain.range(of: ".lora_B.weight") {
                b[String(plain[..<range.lowerBound])] = entry
            } else if plain.contains("lora_") {
                throw fail("unsupported LoRA tensor '\(entry.info.name)'")
            } else {
                replacements[plain.replacingOccurrences(of: ".modules_to_save.", with: ".")] = entry
            }
        }
        var updates: [String: Pair] = [:]
        for (module, aEntry) in a {
            guard let bEntry = b[module] else { throw fail("'\(module).lora_A.weight' has no matching lora_B") }
            let r = aEntry.info.shape.first ?? 0
            guard aEntry.info.shape.count == 2, bEntry.info.shape.count == 2, bEntry.info.shape[1] == r, r > 0 else {
                throw fail("'\(module)': lora_A \(aEntry.info.shape) and lora_B \(bEntry.info.shape) do not fit together")
            }
            let key = module.split(separator: ".").last.map(String.init) ?? module
            let moduleRank = rankPattern.first { module.hasSuffix($0.key) || key == $0.key }?.value.intValue ?? rank
            let moduleAlpha = alphaPattern.first { module.hasSuffix($0.key) || key == $0.key }?.value.doubleValue ?? alpha
            guard moduleRank == r else { throw fail("'\(module)' has rank \(r) but the config says \(moduleRank)") }
            let scale = useRSLoRA ? moduleAlpha / Double(moduleRank).squareRoot() : moduleAlpha / Double(moduleRank)
            updates[module + ".weight"] = Pair(a: aEntry, b: bEntry, scale: Float(scale))
        }
        for module in b.keys where a[module] == nil { throw fail("'\(module).lora_B.weight' has no matching lora_A") }
        self.updates = updates
        self.replacements = replacements
    }

    /// W + scale * B @ A, in place on `weight` ([out, in] row-major).
    package func merge(into weight: inout [Float], name: String, shape: [Int]) throws {
        guard let pair = updates[name] else { return }
        let out = shape[0], inner = shape.dropFirst().reduce(1, *)
        guard pair.b.info.shape[0] == out, pair.a.info.shape[1] == inner else {
            throw CheckpointError.invalidAdapter(
                directory: directory.path,
                reason: "update for '\(name)' is \(pair.b.info.shape[0])x\(pair.a.info.shape[1]), the base tensor is \(shape)")
        }
        let a = pair.a.file.floats(pair.a.info), b = pair.b.file.floats(pair.b.info)
        let r = pair.a.info.shape[0]
        weight.withUnsafeMutableBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(out), Int32(inner), Int32(r),
                        pair.scale, b, Int32(r), a, Int32(inner), 1, w.baseAddress, Int32(inner))
        }
    }
}
