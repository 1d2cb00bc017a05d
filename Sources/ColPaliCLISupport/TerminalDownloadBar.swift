import Foundation

import ColPaliModel

/// A one-line download bar on stderr, for ModelLocator's progress callback;
/// drawn only when stderr is a terminal.
public final class TerminalDownloadBar: @unchecked Sendable {
    private let lock = NSLock()
    private var label = ""
    private var total: Int?
    private var done = 0
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var startBytes = 0

    public init() {}

    /// The callback to hand to ModelLocator, or nil when stderr is not a terminal.
    public static func callbackIfTerminal() -> (@Sendable (DownloadProgress) -> Void)? {
        guard terminalAttached else { return nil }
        let bar = TerminalDownloadBar()
        return { bar.update($0) }
    }

    public func update(_ progress: DownloadProgress) {
        lock.lock()
        defer { lock.unlock() }
        if label != "downloading \(progress.file)" {
            label = "downloading \(progress.file)"
            started = Date()
            startBytes = progress.bytes
        }
        total = progress.total
        done = progress.bytes
        if progress.finished {
            draw()
            FileHandle.standardError.write(Data("\n".utf8))
        } else if Date().timeIntervalSince(lastDraw) > 0.2 {
            draw()
        }
    }

    private func draw() {
        lastDraw = Date()
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done - startBytes) / seconds
        var line = "\r\(label) \(Self.format(done))"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "/\(Self.format(total)) [" + String(repeating: "#", count: filled)
                + String(repeating: ".", count: width - filled) + "] \(Int(fraction * 100))%"
            if rate > 0 { line += " ETA \(Int(Double(total - done) / rate))s" }
        }
        line += " \(Self.format(Int(rate)))/s   "
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func format(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    public static var terminalAttached: Bool {
        isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["CI"] == nil
    }
}
