import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A safetensors file, memory-mapped: tensor data is read in place, never
/// copied as a whole. Layout: u64 little-endian header length N, N bytes of
/// JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
/// then the data section (offsets relative to its start).
package final class SafeTensorsFile: @unchecked Sendable {
    package struct TensorInfo: Sendable {
        package let name: String
        package let dtype: DType
        package let shape: [Int]
        /// Byte range inside the mapping (absolute).
        let range: Range<Int>
        package var elementCount: Int { shape.reduce(1, *) }
    }

    package let url: URL
    package let tensors: [String: TensorInfo]
    package let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let length: Int

    package init(url: URL) throws {
        let path = url.path
        self.url = url
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CheckpointError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(info.st_size)
        guard size >= 8 else { throw CheckpointError.truncated(file: path, reason: "only \(size) bytes, no header length") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw CheckpointError.unreadable(file: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        length = size
        do {
            (tensors, metadata) = try Self.parseHeader(base: base, size: size, path: path)
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    private static func parseHeader(base: UnsafeRawPointer, size: Int, path: String) throws
        -> ([String: TensorInfo], [String: String]) {
        let headerLength = Int(UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)))
        guard headerLength > 0, headerLength <= 100_000_000 else {
            throw CheckpointError.invalidHeader(file: path, reason: "implausible header length \(headerLength)")
        }
        guard 8 + headerLength <= size else {
            throw CheckpointError.truncated(file: path, reason: "header of \(headerLength) bytes but the file has \(size)")
        }
        let headerData = Data(bytes: base + 8, count: headerLength)
        guard let object = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw CheckpointError.invalidHeader(file: path, reason: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                for (key, entry) in (value as? [String: Any]) ?? [:] { metadata[key] = "\(entry)" }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2 else {
                throw CheckpointError.invalidHeader(file: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw CheckpointError.unknownDType(file: path, tensor: name, dtype: dtypeName)
            }
            let shape = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetValues.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw CheckpointError.invalidHeader(file: path, reason: "entry '\(name)' has a malformed shape or offsets")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw CheckpointError.offsetsOutOfRange(file: path, tensor: name, offsets: offsets, dataSize: dataSize)
            }
            let bytes = offsets[1] - offsets[0]
            guard shape.reduce(1, *) * dtype.byteSize == bytes else {
                throw CheckpointError.shapeMismatch(file: path, tensor: name, shape: shape, dtype: dtypeName, bytes: bytes)
            }
            tensors[name] = TensorInfo(name: name, dtype: dtype, shape: shape,
                                       range: (dataStart + offsets[0])..<(dataStart + offsets[1]))
        }
        return (tensors, metadata)
    }

    /// The tensor's bytes, in place in the mapping.
    package func bytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + info.range.lowerBound, count: info.range.count)
    }

    /// A float32 copy of a floating-point tensor, whatever its stored type.
    package func floats(_ info: TensorInfo) -> [Float] {
        let raw = bytes(info)
        let count = info.elementCount
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch info.dtype {
            case .f32:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            case .bf16:
                for i in 0..<count { out[i] = bf16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
            case .f16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))) }
            case .f64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
            case .i64:
                for i in 0..<count { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
            case .i32:
                for i in 0..<count { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
            case .i16:
                for i in 0..<count { out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))) }
            case .i8:
                for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
            case .u8, .bool:
                for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self)) }
            }
            initialized = count
        }
    }

    /// An integer copy (token ids, masks).
    package func integers(_ info: TensorInfo) -> [Int] {
        let raw = bytes(info)
        switch info.dtype {
        case .i64:
            return (0..<info.elementCount).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        case .i32:
            return (0..<info.elementCount).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        default:
            return floats(info).map { Int($0) }
        }
    }

    /// Tells the kernel the pages of these tensors may be dropped (after they
    /// were converted or repacked): keeps resident memory to one copy.
    package func release(_ info: TensorInfo) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (info.range.lowerBound + page - 1) / page * page
        let end = info.range.upperBound / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// Maps a tensor's pages in one go before it is read from start to end
    /// (one call instead of a page fault per 4 KiB).
    package func prefault(_ info: TensorInfo) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = info.range.lowerBound / page * page
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), info.range.upperBound - start, 22 /* MADV_POPULATE_READ */)
    }

    package subscript(name: String) -> TensorInfo? { tensors[name] }
}
