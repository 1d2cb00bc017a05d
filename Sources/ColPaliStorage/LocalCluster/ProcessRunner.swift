import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion and captures what it printed. Used for the
/// Postgres server programs (initdb, pg_ctl), optionally as another user
/// because Postgres refuses to run as root.
///
/// posix_spawn + a blocking waitpid, rather than Foundation's Process: the
/// server that `pg_ctl start` leaves behind must not inherit anything of ours,
/// and the wait must not depend on a run loop.
struct ProcessRunner {
    struct Result {
        var status: Int32
        var output: String
    }

    /// The unprivileged account server programs run as when we are root.
    var runAsUser: String?

    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        var argv = [executable] + arguments
        var path = executable
        if let user = runAsUser {
            path = Self.runuserPath
            // The unprivileged user may not be able to enter our directory.
            argv = [path, "-u", user, "--", "/usr/bin/env", "-C", "/"] + argv
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        // The server programs must not pick up a client's connection settings.
        for key in ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"] { env[key] = nil }

        let capture = FileManager.default.temporaryDirectory
            .appendingPathComponent("colpali-\(UUID().uuidString).out").path
        defer { unlink(capture) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, cArgs, cEnv)
        guard spawned == 0 else {
            throw StorageError.clusterCommandFailed(
                command: (argv.first ?? path), output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, spelled out: the C macros are not imported.
        let exited = (status & 0x7f) == 0
        return Result(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output)
    }

    static var runuserPath: String {
        ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/runuser"
    }
}
