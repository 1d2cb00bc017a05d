import ArgumentParser
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// The colpali_ivf first stage alone, timed per query from the client, over
/// pages that need not be stored (bench/million_pages.sh: an expression index
/// over generated pages), against a brute-force truth file written by
/// bench/million/truth.c. Queries come from a table of (number, query).
struct FirstStageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "first-stage", abstract: "First-stage latency and containment of the exact top 10, against a truth file.")

    @Option var databaseURL: String
    @Option(help: "The colpali_ivf index.") var index: String
    @Option(help: "Its table, whose id column is the page number the truth file names.") var table: String
    @Option(help: "Table of (number integer, query real[]).") var queriesTable: String
    @Option(help: "JSON from bench/million/truth.c.") var truth: String
    @Option var candidates = 100
    @Option(parsing: .upToNextOption) var probes: [Int] = [4, 8, 16]
    @Option(help: "Timed passes over the queries per probe setting, after one untimed pass.") var rounds = 3

    struct Truth: Decodable {
        let pages: Int
        let queries: Int
        let seconds: Double
        let truth: [[Int]]
    }

    func validate() throws {
        for name in [index, table, queriesTable] where name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw ValidationError("'\(name)' is not a plain table or index name")
        }
        guard candidates >= 10, rounds >= 1, !probes.isEmpty, probes.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("need at least 10 candidates, one round and probes of at least 1")
        }
    }

    func run() async throws {
        let truth = try JSONDecoder().decode(Truth.self, from: Data(contentsOf: URL(fileURLWithPath: self.truth)))
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let settings = try ConnectionSettings(url: databaseURL)
        let (index, table, queriesTable, candidates, probes, rounds) = (index, table, queriesTable, candidates, probes, rounds)
        let json = try await Database.withConnection(settings, logger: logger) { c -> String in
            // Each candidate's id by its TID (a Tid Scan): written as a join,
            // the planner hashes the candidates and scans the whole table.
            let sql = """
                SELECT (SELECT p.id FROM \(table) p WHERE p.ctid = c.page)
                FROM colpali_ivf_candidates('\(index)', (SELECT query FROM \(queriesTable) WHERE number = $1), \(candidates)) c
                """
            func candidatesOf(_ number: Int) async throws -> (ids: Set<Int>, seconds: Double) {
                var binds = PostgresBindings()
                binds.append(number)
                let started = Date()
                let ids = try await c.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().map { try $0.decode(Int.self) }
                return (Set(ids), Date().timeIntervalSince(started))
            }
            let stored = try await c.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(queriesTable)"), logger: logger)
                .collect().first!.decode(Int.self)
            guard stored == truth.queries else {
                throw ValidationError("\(queriesTable) holds \(stored) queries, the truth file \(truth.queries)")
            }
            let indexBytes = try await c.query(PostgresQuery(unsafeSQL: "SELECT pg_relation_size('\(index)')::float8"), logger: logger)
                .collect().first!.decode(Double.self)
            var runs: [[String: Any]] = []
            for p in probes {
                _ = try await c.query(PostgresQuery(unsafeSQL: "SET colpali.ivf_probes = \(p)"), logger: logger)
                for number in 0..<truth.queries { _ = try await candidatesOf(number) }
                var seconds: [Double] = []
                var found = 0.0, whole = 0
                for round in 0..<rounds {
                    for number in 0..<truth.queries {
                        let r = try await candidatesOf(number)
                        seconds.append(r.seconds)
                        if round == 0 {
                            let inside = r.ids.intersection(truth.truth[number]).count
                            found += Double(inside) / 10
                            if inside == 10 { whole += 1 }
                        }
                    }
                }
                let n = Double(truth.queries)
                runs.append(["probes": p, "candidates": candidates, "samples": seconds.count,
                             "top10_found": (found / n * 1000).rounded() / 1000,
                             "queries_with_whole_top10": (Double(whole) / n * 1000).rounded() / 1000,
                             "p50_ms": SearchBench.milliseconds(SearchBench.percentile(seconds, 0.5)),
                             "p95_ms": SearchBench.milliseconds(SearchBench.percentile(seconds, 0.95))])
            }
            let result: [String: Any] = ["pages": truth.pages, "queries": truth.queries, "index_bytes": indexBytes,
                                         "brute_force_seconds": truth.seconds, "runs": runs]
            return String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self)
        }
        print(json)
    }
}
