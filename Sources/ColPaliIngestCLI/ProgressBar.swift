import Foundation

/// Pages done / total, pages per minute and ETA on one terminal line; plain
/// log lines when stderr is not a terminal.
final class ProgressBar: @unchecked Sendable {
    private let total: Int
    private let started = Date()
    private let lock = NSLock()
    private var done = 0
    private var finishedDocuments = 0
    private var lastDraw = Date.distantPast
    private let terminal = isatty(STDERR_FILENO) != 0

    init(totalPages: Int) { total = max(1, totalPages) }

    /// Pages of the documents before this one count as done.
    func beginDocument() {
        lock.lock()
        finishedDocuments = done
        lock.unlock()
    }

    func update(pagesInDocument pages: Int, current: String) {
        lock.lock()
        done = finishedDocuments + pages
        let now = Date()
        let draw = terminal && (now.timeIntervalSince(lastDraw) > 0.25 || done >= total)
        if draw { lastDraw = now }
        let snapshot = done
        lock.unlock()
        guard draw else { return }
        let minutes = max(now.timeIntervalSince(started) / 60, 1e-6)
        let rate = Double(snapshot) / minutes
        let remaining = rate > 0 ? Double(total - snapshot) / rate : 0
        let width = 24
        let filled = min(width, width * snapshot / total)
        let name = (current as NSString).lastPathComponent
        let line = String(format: "\r[%@%@] %d/%d pages  %.1f pages/min  ETA %@  %@\u{1B}[K",
                          String(repeating: "#", count: filled), String(repeating: ".", count: width - filled),
                          snapshot, total, rate, Self.duration(remaining * 60), name)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
