import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a source file's bytes through a descriptor, so what is checked is
/// what is read: only regular files (a FIFO or a device could block or
/// never end), at most `SourceFile.maximumBytes`, with the operating
/// system's reason when the file cannot be opened.
enum FileReader {
    /// Opens `path` (following symbolic links, as a user naming a file expects).
    static func read(path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SourceFile.ReadError.unreadable(path, reason: reason(errno, path: path)) }
        defer { close(fd) }
        return try read(descriptor: fd, path: path)
    }

    /// The whole content of an open regular file.
    static func read(descriptor fd: Int32, path: String) throws -> Data {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SourceFile.ReadError.unreadable(path, reason: reason(errno, path: path)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw SourceFile.ReadError.unreadable(path, reason: "it is a directory")
        default: throw SourceFile.ReadError.unreadable(path, reason: "not a regular file (a device, FIFO or socket)")
        }
        let size = Int(info.st_size)
        guard size <= SourceFile.maximumBytes else {
            throw SourceFile.ReadError.tooLarge(path, bytes: size, limit: SourceFile.maximumBytes)
        }
        var data = Data(count: size)
        var filled = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while filled < size {
                let n = Glibc.read(fd, buffer.baseAddress! + filled, size - filled)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SourceFile.ReadError.unreadable(path, reason: reason(errno, path: path)) }
                if n == 0 { break }  // shrank while being read: keep what is there
                filled += n
            }
        }
        return filled == size ? data : data.prefix(filled)
    }

    /// The operating system's reason, in words a user acts on.
    static func reason(_ code: Int32, path: String) -> String {
        switch code {
        case ENOENT:
            // Swift strings replace undecodable name bytes with U+FFFD: such a
            // name can be listed but not opened again by that name.
            return path.contains("\u{FFFD}")
                ? "no such file (its name is not valid UTF-8; rename it)" : "no such file"
        case EACCES, EPERM: return "permission denied"
        case ELOOP: return "too many levels of symbolic links (a symlink loop, or a link where none may be)"
        case ENOTDIR: return "a part of the path is not a directory"
        case EISDIR: return "it is a directory"
        case ENAMETOOLONG: return "the path is too long"
        default: return String(cString: strerror(code))
        }
    }
}
