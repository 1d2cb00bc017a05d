import ArgumentParser
import ColPaliStorage
import Foundation

/// How commands end when something is wrong: one line on stderr.
public enum ErrorReporter {
    public static func exit<Command: ParsableCommand>(with error: any Error, command: Command.Type) -> Never {
        let name = Command.configuration.commandName ?? "colpali"
        // A command that already said what it had to and only sets the status.
        if let exitCode = error as? ExitCode { Foundation.exit(exitCode.rawValue) }
        let code = Command.exitCode(for: error)
        // --help and --version arrive as "errors" with a success status.
        if code == .success {
            print(Command.fullMessage(for: error))
            Foundation.exit(0)
        }
        let message: String
        if code == .validationFailure || isParserError(error) {
            message = Command.message(for: error) + " (see '\(name) --help')"
        } else if let localized = error as? LocalizedError, let text = localized.errorDescription {
            message = text
        } else {
            // Our errors render themselves as one actionable line; the
            // database's are its message, detail and hint, not a type dump.
            message = DatabaseErrors.describe(error) + (Remedies.remedy(for: error).map { ": \($0)" } ?? "")
        }
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("\(name): \(oneLine)\n".utf8))
        Foundation.exit(code == .success ? 1 : code.rawValue)
    }

    private static func isParserError(_ error: any Error) -> Bool {
        String(reflecting: type(of: error)).contains("ArgumentParser")
    }
}

/// Errors of the command line itself.
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
