import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// Text written into SQL (SET LOCAL colpali.tenant = ...) reads back as the
/// same text, whatever it holds and however the session reads strings.
struct SQLLiteralTests {
    static let hostile = ["acme", "", "x'; DROP TABLE pages; --", "back\\slash", "\\'", "''", "quote'\\'", "naïve 🚀", "E'x'", "$$", "\n\t"]

    @Test func aNULCannotBeWritten() {
        #expect(SQLLiteral.quote("a\0b") == nil)
        #expect(SQLLiteral.quote("it's") == "E'it\\'s'")
    }

    @Test(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
    func everyTextReadsBackUnchanged() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: false)
        try await Database.withConnection(settings, logger: TestPostgres.logger) { c in
            for conforming in ["on", "off"] {
                try await c.query(PostgresQuery(unsafeSQL: "SET standard_conforming_strings = \(conforming)"), logger: TestPostgres.logger)
                for text in Self.hostile {
                    let literal = try #require(SQLLiteral.quote(text))
                    try await c.query(PostgresQuery(unsafeSQL: "SET colpali.tenant = \(literal)"), logger: TestPostgres.logger)
                    let back = try await c.query("SELECT current_setting('colpali.tenant')", logger: TestPostgres.logger)
                        .collect().first!.decode(String.self)
                    #expect(back == text, "standard_conforming_strings=\(conforming)")
                }
            }
        }
    }
}
