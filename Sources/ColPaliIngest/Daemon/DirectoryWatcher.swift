import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// Watches a directory (by polling: portable, and network shares do not
/// deliver change events anyway) and queues every new or changed PDF or
/// image once its size has stopped changing, i.e. once it is fully written.
/// Watched files are ingested with the daemon's default options.
struct DirectoryWatcher {
    let directory: String
    /// The daemon's pool: a first scan of thousands of files must not open
    /// a connection for each.
    let client: PostgresClient
    let interval: Duration
    let logger: Logger

    struct Seen: Equatable {
        var size: Int
        var modified: Date
    }

    func run(state: DaemonState) async {
        var queued: [String: Seen] = [:]
        var previous: [String: Seen] = [:]
        while !state.stopping && !Task.isCancelled {
            let current = scan()
            for (path, seen) in current where previous[path] == seen && queued[path] != seen {
                do {
                    if try await enqueue(path, modified: seen.modified) { state.wake() }
                    queued[path] = seen
                } catch {
                    logger.warning("cannot queue watched file", metadata: [
                        "file": "\(path)", "error": "\(DatabaseErrors.describe(error))"])
                }
            }
            previous = current
            try? await Task.sleep(for: interval)
        }
    }

    private func scan() -> [String: Seen] {
        var result: [String: Seen] = [:]
        for path in SourceFile.expand([directory]) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = (attributes[.size] as? NSNumber)?.intValue,
                  let modified = attributes[.modificationDate] as? Date else { continue }
            result[path] = Seen(size: size, modified: modified)
        }
        return result
    }

    /// Queues unless the same file is already waiting or in work, or was
    /// ingested since it last changed (a restarted daemon does not queue the
    /// whole directory again). True when it queued.
    private func enqueue(_ path: String, modified: Date) async throws -> Bool {
        let uri = SourceURI.of(path: path)
        return try await client.withConnection { c in
            let known = try await c.query("""
                SELECT 1 FROM ingest_jobs
                WHERE source_uri = \(uri)
                  AND (status IN ('queued', 'running') OR (status = 'done' AND finished_at >= \(modified)))
                LIMIT 1
                """, logger: logger).collect()
            guard known.isEmpty else { return false }
            let id = try await JobQueue.enqueue(sourceURI: uri, on: c, logger: logger)
            logger.info("queued watched file", metadata: ["file": "\(path)", "job": "\(id)"])
            return true
        }
    }
}
