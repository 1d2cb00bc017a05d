import ColPaliCore
import ColPaliModel
import Foundation
import ZIPFoundation

/// Page multi-vectors computed elsewhere (colpali-engine on a GPU, say), one
/// per page in page order, read from the files NumPy and safetensors write:
///
/// - `.npy`: pages x rows x dim, or rows x dim for one page;
/// - `.npz`: one array as above, or one rows x dim array per page named
///   `page_1`, `page_2`, ... or `arr_0`, `arr_1`, ... (`numpy.savez(f, *pages)`),
///   which lets pooled pages have different row counts;
/// - `.safetensors`: a tensor `embeddings` as above, or `page_1`, ...;
///   F32, F16 or BF16; the model's name may be in the header's metadata
///   under `model`.
public struct EmbeddingFile: Sendable, Equatable {
    public let pages: [MultiVector]
    /// The model named inside the file, if any.
    public let modelName: String?

    public enum ReadError: Error, CustomStringConvertible, Sendable, Equatable {
        case unsupportedFormat(String)
        case unreadable(String)
        case malformed(String)
        case noPages
        case tooManyPages(Int, limit: Int)
        case mixedDimensions(page: Int, dim: Int, first: Int)
        case rowsOutOfRange(page: Int, rows: Int, allowed: ClosedRange<Int>)
        case nonFinite(page: Int)

        public var description: String {
            switch self {
            case .unsupportedFormat(let name):
                return "'\(name)' is not a .npy, .npz or .safetensors file"
            case .unreadable(let reason): return "the embeddings cannot be read: \(reason)"
            case .malformed(let reason): return "the embeddings file is malformed: \(reason)"
            case .noPages: return "the embeddings file holds no page"
            case .tooManyPages(let count, let limit): return "the embeddings file holds \(count) pages, more than \(limit)"
            case .mixedDimensions(let page, let dim, let first):
                return "page \(page)'s vectors have \(dim) dimensions, page 1's have \(first)"
            case .rowsOutOfRange(let page, let rows, let allowed):
                return "page \(page) has \(rows) vectors; a page has \(allowed.lowerBound) to \(allowed.upperBound)"
            case .nonFinite(let page): return "page \(page) holds NaN or an infinite value"
            }
        }
    }

    /// A page has at least one vector and at most what the extension takes.
    public static let rowRange = 1...8_192
    public static let maximumPages = 10_000

    public init(pages: [MultiVector], modelName: String? = nil) throws {
        guard !pages.isEmpty else { throw ReadError.noPages }
        guard pages.count <= Self.maximumPages else { throw ReadError.tooManyPages(pages.count, limit: Self.maximumPages) }
        let dim = pages[0].dim
        for (index, page) in pages.enumerated() {
            guard page.dim == dim else { throw ReadError.mixedDimensions(page: index + 1, dim: page.dim, first: dim) }
            guard Self.rowRange.contains(page.rows) else {
                throw ReadError.rowsOutOfRange(page: index + 1, rows: page.rows, allowed: Self.rowRange)
            }
            guard page.values.allSatisfy(\.isFinite) else { throw ReadError.nonFinite(page: index + 1) }
        }
        self.pages = pages
        self.modelName = modelName
    }

    public static func read(contentsOf url: URL) throws -> EmbeddingFile {
        switch url.pathExtension.lowercased() {
        case "npy": return try EmbeddingFile(pages: numpy(try data(url)))
        case "npz": return try npz(try data(url))
        case "safetensors": return try safetensors(url)
        default: throw ReadError.unsupportedFormat(url.lastPathComponent)
        }
    }

    static func data(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ReadError.unreadable(error.localizedDescription)
        }
    }

    static func numpy(_ data: Data, name: String? = nil) throws -> [MultiVector] {
        do {
            return try NumpyArray.parse(data).multiVectors()
        } catch let error as NumpyArray.ParseError {
            throw ReadError.malformed(name.map { "\($0): \(error)" } ?? "\(error)")
        }
    }

    /// Arrays named page_1..page_N or arr_0..arr_{N-1}, in that order; or a single array of any name.
    static func ordered(_ names: [String]) throws -> [String] {
        if names.count == 1 { return names }
        for (prefix, first) in [("page_", 1), ("arr_", 0), ("image_", 0)] {
            let numbers = names.compactMap { $0.hasPrefix(prefix) ? Int($0.dropFirst(prefix.count)) : nil }
            if numbers.count == names.count, numbers.sorted() == Array(first..<(first + names.count)) {
                return numbers.sorted().map { "\(prefix)\($0)" }
            }
        }
        throw ReadError.malformed("with several arrays, name them page_1, page_2, ... (or arr_0, arr_1, ... as numpy.savez does): found \(names.sorted().prefix(5).joined(separator: ", "))")
    }

    static func npz(_ data: Data) throws -> EmbeddingFile {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw ReadError.malformed("not a .npz (zip) archive")
        }
        var arrays: [String: Data] = [:]
        for entry in archive where entry.type == .file {
            guard entry.path.hasSuffix(".npy") else { continue }
            guard arrays.count < maximumPages else { throw ReadError.tooManyPages(arrays.count + 1, limit: maximumPages) }
            guard entry.uncompressedSize <= UInt64(NumpyArray.maximumValues) * 8 + 4096 else {
                throw ReadError.malformed("\(entry.path) is larger than an array may be")
            }
            var bytes = Data()
            let limit = Int(entry.uncompressedSize)
            do {
                // The declared size bounds what is taken, whatever the stream holds.
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard bytes.count + chunk.count <= limit else { throw ReadError.malformed("\(entry.path) is larger than it says") }
                    bytes.append(chunk)
                }
            } catch let error as ReadError {
                throw error
            } catch {
                throw ReadError.malformed("\(entry.path) cannot be extracted (\(error))")
            }
            arrays[String(entry.path.dropLast(4))] = bytes
        }
        guard !arrays.isEmpty else { throw ReadError.noPages }
        let names = try ordered(Array(arrays.keys))
        if names.count == 1 { return try EmbeddingFile(pages: numpy(arrays[names[0]]!, name: names[0])) }
        return try EmbeddingFile(pages: names.map { name in
            let pages = try numpy(arrays[name]!, name: name)
            guard pages.count == 1 else { throw ReadError.malformed("\(name) must be a rows x dim array") }
            return pages[0]
        })
    }

    static func safetensors(_ url: URL) throws -> EmbeddingFile {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(url: url)
        } catch {
            throw ReadError.malformed("\(error)")
        }
        func vectors(_ name: String) throws -> [MultiVector] {
            let info = file.tensors[name]!
            guard [.f32, .f16, .bf16].contains(info.dtype) else {
                throw ReadError.malformed("\(name) is \(info.dtype.rawValue), not F32, F16 or BF16")
            }
            let values = file.floats(info)
            switch info.shape.count {
            case 2: return [MultiVector(rows: info.shape[0], dim: info.shape[1], values: values)]
            case 3:
                let size = info.shape[1] * info.shape[2]
                return (0..<info.shape[0]).map {
                    MultiVector(rows: info.shape[1], dim: info.shape[2], values: Array(values[($0 * size)..<(($0 + 1) * size)]))
                }
            default: throw ReadError.malformed("\(name) has shape \(info.shape): rows x dim or pages x rows x dim is needed")
            }
        }
        let model = file.metadata["model"]
        if file.tensors["embeddings"] != nil { return try EmbeddingFile(pages: vectors("embeddings"), modelName: model) }
        let names = try ordered(Array(file.tensors.keys))
        if names.count == 1 { return try EmbeddingFile(pages: vectors(names[0]), modelName: model) }
        return try EmbeddingFile(pages: names.map { name in
            let pages = try vectors(name)
            guard pages.count == 1 else { throw ReadError.malformed("\(name) must be a rows x dim tensor") }
            return pages[0]
        }, modelName: model)
    }
}
