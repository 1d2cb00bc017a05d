import Foundation

/// Where commands write results: `-` is standard output; a regular file is
/// replaced atomically (a reader never sees half of it); anything else that
/// exists (/dev/null, a FIFO) is written in place, never replaced. A failure
/// is one line naming the path and the operating system's reason.
public enum OutputFile {
    public static func write(_ data: Data, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(data)
            return
        }
        let url = URL(fileURLWithPath: path)
        let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
        do {
            if type == nil || type == .typeRegular {
                try data.write(to: url, options: .atomic)
            } else {
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.write(contentsOf: data)
            }
        } catch {
            throw CLIError("cannot write \(path): \(reason(error))")
        }
    }

    /// The POSIX reason inside a Foundation file error ("Permission denied"),
    /// not the error domain's dump.
    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(nsError.code))) }
        switch nsError.code {
        case NSFileWriteNoPermissionError: return "permission denied"
        case NSFileWriteOutOfSpaceError: return "no space left on the device"
        case NSFileWriteVolumeReadOnlyError: return "read-only file system"
        case NSFileNoSuchFileError, NSFileWriteFileExistsError: return "no such directory"
        default: return nsError.localizedDescription
        }
    }
}
