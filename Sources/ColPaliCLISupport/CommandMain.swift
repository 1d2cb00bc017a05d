import ArgumentParser
import Foundation
import Logging

extension AsyncParsableCommand {
    /// The shared `main` of the command-line tools: logs to stderr, runs the
    /// parsed command, and ends every failure as one line and an exit status.
    public static func runMain(defaultLogLevel: Logger.Level) async {
        CommandLogging.bootstrap(defaultLevel: defaultLogLevel)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            ErrorReporter.exit(with: error, command: self)
        }
    }
}
