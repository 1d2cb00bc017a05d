import Foundation
import Logging

/// Logs go to stderr (stdout carries results: tables, JSON, embeddings).
/// Libraries' own loggers start at `level`, or $COLPALI_LOG_LEVEL.
public enum CommandLogging {
    public static func bootstrap(defaultLevel level: Logger.Level) {
        let configured = ProcessInfo.processInfo.environment["COLPALI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configured
            return handler
        }
    }
}
