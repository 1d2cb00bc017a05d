@testable import ColPaliStorage
import Testing

struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolons() {
        #expect(SQLScript.statements("SELECT 1; SELECT 2;\n\n") == ["SELECT 1", "SELECT 2"])
        #expect(SQLScript.statements("SELECT 1") == ["SELECT 1"])
        #expect(SQLScript.statements("  ;; -- only a comment\n /* and ; another */ ").isEmpty)
    }

    @Test func semicolonsInsideQuotesAndCommentsStay() {
        let script = """
            INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\'slash;');
            SELECT "odd;name" FROM t; -- trailing; comment
            /* block /* nested; */ still; */ SELECT 3;
            CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;
            CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
            PREPARE p AS SELECT $1::int; SELECT a$b FROM t
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 7)
        #expect(statements[0].hasSuffix("E'back\\'slash;')"))
        #expect(statements[1] == "SELECT \"odd;name\" FROM t")
        #expect(statements[2].hasSuffix("SELECT 3"))
        #expect(statements[3].hasSuffix("$$ LANGUAGE plpgsql"))
        #expect(statements[4].contains("SELECT 1; $body$"))
        #expect(statements[5] == "PREPARE p AS SELECT $1::int")
        #expect(statements[6] == "SELECT a$b FROM t")
    }

    @Test func theRealMigrationsSplit() throws {
        let migrations = try Migration.load(from: TestSupportPaths.migrations)
        #expect(!migrations.isEmpty)
        for migration in migrations {
            let statements = SQLScript.statements(migration.sql)
            #expect(!statements.isEmpty)
            #expect(statements.allSatisfy { !$0.hasPrefix(";") })
        }
    }
}
