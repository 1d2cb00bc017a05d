import ColPaliModel
import Foundation

/// Writing embeddings for other tools: JSON, or NumPy's .npy (one array) and
/// .npz (several, named image_0, query_0, ...).
enum EmbeddingOutput {
    struct Item {
        let kind: String  // "images" or "queries"
        let label: String
        let vector: MultiVector
    }

    static func json(_ items: [Item]) throws -> Data {
        var images: [[String: Any]] = []
        var queries: [[String: Any]] = []
        for item in items {
            let rows = (0..<item.vector.rows).map { Array(item.vector.row($0)).map(Double.init) }
            if item.kind == "images" {
                images.append(["path": item.label, "embedding": rows])
            } else {
                queries.append(["text": item.label, "embedding": rows])
            }
        }
        return try JSONSerialization.data(withJSONObject: ["images": images, "queries": queries], options: [.sortedKeys])
    }

    /// psql variables holding each multi-vector as a real[][] literal, for
    /// the README's SQL: `\set query '{{...}}'` (then `query_2`, ...; pages
    /// as `page`, `page_2`, ...). Nine significant digits: a float round-trips.
    static func psql(_ items: [Item]) -> Data {
        var counters: [String: Int] = [:]
        var text = ""
        for item in items {
            let name = item.kind == "images" ? "page" : "query"
            let index = counters[name, default: 0] + 1
            counters[name] = index
            let rows = (0..<item.vector.rows).map { r in
                "{" + item.vector.row(r).map { String(format: "%.9g", $0) }.joined(separator: ",") + "}"
            }
            text += "\\set \(index == 1 ? name : "\(name)_\(index)") '{" + rows.joined(separator: ",") + "}'\n"
        }
        return Data(text.utf8)
    }

    /// A single .npy of float32 [rows, dim] for one item; an .npz for several.
    static func numpy(_ items: [Item]) -> Data {
        if items.count == 1 { return npy(items[0].vector) }
        var counters: [String: Int] = [:]
        let entries = items.map { item -> (String, Data) in
            let prefix = item.kind == "images" ? "image" : "query"
            let index = counters[prefix, default: 0]
            counters[prefix] = index + 1
            return ("\(prefix)_\(index).npy", npy(item.vector))
        }
        return StoredZip.archive(entries)
    }

    static func npy(_ vector: MultiVector) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(vector.rows), \(vector.dim)), }"
        // Magic (6) + version (2) + length (2) + header + "\n", padded to 64 bytes.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        vector.values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!)
            .assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return data
    }
}

/// A zip archive without compression (what numpy.savez writes): local file
/// headers, data, central directory.
enum StoredZip {
    static func archive(_ entries: [(name: String, data: Data)]) -> Data {
        var out = Data()
        var central = Data()
        for (name, data) in entries {
            let offset = UInt32(out.count)
            let crc = crc32(data)
            let nameBytes = Array(name.utf8)
            out.append(le32(0x0403_4b50))
            out.append(le16(20)); out.append(le16(0)); out.append(le16(0))  // version, flags, stored
            out.append(le16(0)); out.append(le16(0x21))                      // time, date (1980-01-01)
            out.append(le32(crc)); out.append(le32(UInt32(data.count))); out.append(le32(UInt32(data.count)))
            out.append(le16(UInt16(nameBytes.count))); out.append(le16(0))
            out.append(contentsOf: nameBytes)
            out.append(data)
            central.append(le32(0x0201_4b50))
            central.append(le16(20)); central.append(le16(20)); central.append(le16(0)); central.append(le16(0))
            central.append(le16(0)); central.append(le16(0x21))
            central.append(le32(crc)); central.append(le32(UInt32(data.count))); central.append(le32(UInt32(data.count)))
            central.append(le16(UInt16(nameBytes.count))); central.append(le16(0)); central.append(le16(0))
            central.append(le16(0)); central.append(le16(0)); central.append(le32(0)); central.append(le32(offset))
            central.append(contentsOf: nameBytes)
        }
        let centralOffset = UInt32(out.count)
        out.append(central)
        out.append(le32(0x0605_4b50)); out.append(le16(0)); out.append(le16(0))
        out.append(le16(UInt16(entries.count))); out.append(le16(UInt16(entries.count)))
        out.append(le32(UInt32(central.count))); out.append(le32(centralOffset)); out.append(le16(0))
        return out
    }

    static func le16(_ v: UInt16) -> Data { Data([UInt8(v & 0xFF), UInt8(v >> 8)]) }
    static func le32(_ v: UInt32) -> Data { Data((0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) }) }

    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
