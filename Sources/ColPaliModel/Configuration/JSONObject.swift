import Foundation

/// Typed reads from a decoded JSON object, with the defaults real config
/// files rely on (they omit fields whose values equal the class defaults).
struct JSONObject {
    let values: [String: Any]
    let file: String

    init(_ values: [String: Any], file: String) {
        self.values = values
        self.file = file
    }

    static func load(_ url: URL) throws -> JSONObject {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError.unreadable(file: url.path, reason: "\(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CheckpointError.invalidConfiguration(file: url.path, reason: "not a JSON object")
        }
        return JSONObject(object, file: url.path)
    }

    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func int(_ key: String, default fallback: Int) throws -> Int {
        guard has(key) else { return fallback }
        if let number = values[key] as? NSNumber, number.doubleValue == number.doubleValue.rounded() {
            return number.intValue
        }
        // Some configs write a size as [h, w] or {"height", "width"}; square only.
        if let pair = values[key] as? [NSNumber], pair.count == 2, pair[0] == pair[1] { return pair[0].intValue }
        throw CheckpointError.invalidConfiguration(file: file, reason: "'\(key)' is not an integer: \(values[key]!)")
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard has(key) else { return fallback }
        guard let number = values[key] as? NSNumber else {
            throw CheckpointError.invalidConfiguration(file: file, reason: "'\(key)' is not a number")
        }
        return number.doubleValue
    }

    func string(_ key: String) -> String? { values[key] as? String }

    func object(_ key: String) -> JSONObject? {
        (values[key] as? [String: Any]).map { JSONObject($0, file: file) }
    }

    func strings(_ key: String) -> [String] { (values[key] as? [String]) ?? [] }
}
