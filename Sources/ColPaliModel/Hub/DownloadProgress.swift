import Foundation

/// A one-line progress bar on stderr, only when stderr is a terminal.
public final class DownloadProgress: @unchecked Sendable {
    private let label: String
    private let total: Int?
    private let enabled: Bool
    private var done: Int
    private let started = Date()
    private var lastDraw = Date.distantPast
    private let startBytes: Int

    init(label: String, total: Int?, already: Int, enabled: Bool) {
        self.label = label
        self.total = total
        self.done = already
        self.startBytes = already
        self.enabled = enabled
    }

    func advance(_ bytes: Int) {
        done += bytes
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        draw()
    }

    func finish() {
        guard enabled else { return }
        draw()
        FileHandle.standardError.write(Data("\n".utf8))
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
