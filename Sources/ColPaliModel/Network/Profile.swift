import Foundation

/// With COLPALI_PROFILE=1, time per operation kind is summed over a forward
/// pass and printed to stderr after it (with GFLOP/s for matrix multiplies):
/// the table the performance work was done with.
enum Profile {
    static let enabled = ProcessInfo.processInfo.environment["COLPALI_PROFILE"] != nil
    private static let lock = NSLock()
    nonisolated(unsafe) private static var totals: [String: (seconds: Double, flops: Double)] = [:]

    static func start() -> UInt64 { enabled ? DispatchTime.now().uptimeNanoseconds : 0 }

    static func stop(_ started: UInt64, _ name: @autoclosure () -> String, flops: Double = 0) {
        guard enabled else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let key = name()
        lock.lock()
        let old = totals[key] ?? (0, 0)
        totals[key] = (old.seconds + seconds, old.flops + flops)
        lock.unlock()
    }

    static func report() {
        guard enabled else { return }
        lock.lock()
        let rows = totals.sorted { $0.value.seconds > $1.value.seconds }
        totals = [:]
        lock.unlock()
        var text = ""
        for (name, value) in rows {
            let rate = value.flops > 0 ? String(format: " %6.1f GFLOP/s", value.flops / value.seconds / 1e9) : ""
            text += String(format: "  %-28@ %8.3f s", name as NSString, value.seconds) + rate + "\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
