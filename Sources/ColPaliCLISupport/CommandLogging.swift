import Foundation
import Logging

/// Logs go to stderr (stdout carries results: tables, JSON, embeddings).
/// $COLPALI_LOG_LEVEL, when set, overrides each command's default level.
public enum CommandLogging {
    public static func bootstrap(defaultLevel: Logger.Level) {
        let configured = level(default: defaultLevel)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configured
            return handler
        }
    }

    /// $COLPALI_LOG_LEVEL (trace, debug, info, notice, warning, error, critical), else `level`.
    public static func level(default level: Logger.Level) -> Logger.Level {
        ProcessInfo.processInfo.environment["COLPALI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? level
    }
}
