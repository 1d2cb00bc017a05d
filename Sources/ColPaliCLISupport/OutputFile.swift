import Foundation

/// Where commands write results: `-` is standard output; a regular file is
/// replaced atomically (a reader never sees half of it); anything else that
/// exists (/dev/null, a FIFO) is written in place, never replaced.
public enum OutputFile {
    public static func write(_ data: Data, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(data)
            return
        }
        let url = URL(fileURLWithPath: path)
        let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
        if type == nil || type == .typeRegular {
            try data.write(to: url, options: .atomic)
        } else {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
        }
    }
}
