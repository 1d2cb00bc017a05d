import ArgumentParser
import ColPaliKernels
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// The colpali_ivf candidate index against the codes prefilter, side by side
/// on one synthetic corpus: build time and size, then per query recall@10
/// (candidates reranked by exact MaxSim) and latency percentiles, and how
/// often the exact top 10 is inside the first stage's candidates.
struct IndexBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Candidate index recall, latency and build cost.")

    @Option var databaseURL: String
    @Option var pages = 20000
    @Option var queries = 30
    @Option var lists = 1024
    @Option(parsing: .upToNextOption) var probes: [Int] = [4, 8, 16]
    @Option(parsing: .upToNextOption) var candidates: [Int] = [50, 100, 200]
    @Option(parsing: .upToNextOption, help: "Candidate counts at which the codes prefilter runs beside the index (it is slow at scale).")
    var codesCandidates: [Int] = [100]
    @Flag(help: "Drop and build the index even when it exists.") var rebuild = false
    @Flag(help: "Make the pages table UNLOGGED before loading (a benchmark-only speed-up).") var unlogged = false
    @Option var seed: UInt64 = 42
    @Option(help: "Rows per page. Fewer than 1,030 keeps each page's topics with fewer rows: the first stage at a scale whose full vectors would not fit on disk (its postings per page are reported beside it).")
    var rowsPerPage = 1030
    @Option(help: "File keeping the exact top 10 of each query between runs (exact search is minutes at 100,000 pages).")
    var truthCache: String?

    func validate() throws {
        guard (1...4096).contains(rowsPerPage) else { throw ValidationError("--rows-per-page must be between 1 and 4096") }
    }

    func run() async throws {
        let (pages, queries, lists, rebuild) = (self.pages, self.queries, self.lists, self.rebuild)
        let (probes, candidates, codesCandidates) = (self.probes, self.candidates, self.codesCandidates)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let settings = try ConnectionSettings(url: databaseURL)
        _ = try await Migrator(migrations: Migration.load(from: Migration.locateDirectory()), logger: logger).migrate(settings)
        if unlogged {
            try await Database.withConnection(settings, logger: logger) { c in
                _ = try await c.query("ALTER TABLE pages SET UNLOGGED", logger: logger)
            }
        }
        let corpus = SyntheticCorpus(seed: seed, rowsPerPage: rowsPerPage)
        try await SyntheticLoader(corpus: corpus, settings: settings, logger: logger).load(pages: pages)
        var random = SplitMix(seed: seed &+ 23)
        let rows = (0..<queries).map { corpus.query(3000 + $0, target: Int(random.next() % UInt64(pages))) }
        let matrices = rows.map { MultiVector(rows: corpus.queryRows, dim: corpus.dim, values: $0) }
        let codes = rows.map { values -> Data in
            var out = [UInt8](repeating: 0, count: corpus.queryRows * 16)
            colpali_binary_quantize(values, Int32(corpus.queryRows), Int32(corpus.dim), &out)
            return Data(out)
        }

        let json = try await Database.withConnection(settings, logger: logger) { c -> String in
            // An index left by an interrupted run may have been built over an empty table (no lists).
            let exists = try await c.query("SELECT coalesce(colpali_ivf_lists(to_regclass('pages_embedding_ivf')), 0) > 0",
                                           logger: logger).collect().first!.decode(Bool.self)
            var buildSeconds: Double?
            if rebuild || !exists {
                _ = try await c.query("DROP INDEX IF EXISTS pages_embedding_ivf", logger: logger)
                _ = try await c.query("SET maintenance_work_mem = '1GB'", logger: logger)
                let started = Date()
                _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE INDEX pages_embedding_ivf ON pages USING colpali_ivf (embedding) WITH (lists = \(lists))"),
                                      logger: logger)
                buildSeconds = Date().timeIntervalSince(started)
            }
            let indexBytes = try await c.query("SELECT pg_relation_size('pages_embedding_ivf')::float8", logger: logger)
                .collect().first!.decode(Double.self)
            let builtLists = try await c.query("SELECT colpali_ivf_lists('pages_embedding_ivf')", logger: logger)
                .collect().first!.decode(Int.self)

            func ids(_ sql: String, _ index: Int) async throws -> (ids: [Int], seconds: Double) {
                var binds = PostgresBindings()
                binds.append(matrices[index])
                try binds.append(codes[index])
                let started = Date()
                let found = try await c.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                    .collect().map { try $0.decode(Int.self) }
                return (found, Date().timeIntervalSince(started))
            }
            // Warm-up: the index and the codes into cache, as a running service has them.
            _ = try await ids("SELECT id FROM pages ORDER BY embedding <#> $1 LIMIT 10", 0)
            _ = try await ids("SELECT id FROM pages ORDER BY maxsim_hamming($2, embedding, 128) DESC LIMIT 10", 0)

            var truth: [[Int]] = []
            var exactSeconds: [Double] = []
            // Truth is kept by page id: a reload numbers pages anew (the sequence goes on).
            let firstID = try await c.query("SELECT coalesce(min(id), 0) FROM pages", logger: logger).collect().first!.decode(Int.self)
            let cacheKey = "\(pages)-\(queries)-\(self.seed)-\(firstID)" + (rowsPerPage == 1030 ? "" : "-rows\(rowsPerPage)")
            if let path = truthCache, let data = FileManager.default.contents(atPath: path),
               let cached = try? JSONSerialization.jsonObject(with: data) as? [String: Any], cached["key"] as? String == cacheKey,
               let ids = cached["truth"] as? [[Int]], let seconds = cached["seconds"] as? [Double] {
                truth = ids
                exactSeconds = seconds
            }
            for index in truth.count..<queries {
                let r = try await ids("SELECT id FROM pages ORDER BY maxsim($1, embedding) DESC, id LIMIT 10", index)
                truth.append(r.ids)
                exactSeconds.append(r.seconds)
            }
            if let path = truthCache {
                let data = try JSONSerialization.data(withJSONObject: ["key": cacheKey, "truth": truth, "seconds": exactSeconds])
                FileManager.default.createFile(atPath: path, contents: data)
            }
            /// `firstStage`: the candidate ids alone; `twoStage`: candidates and exact rerank, top 10.
            func measure(firstStage: String, twoStage: String, limit: Int) async throws -> [String: Any] {
                var recall = 0.0, contained = 0.0
                var total: [Double] = [], first: [Double] = []
                for index in 0..<queries {
                    let stage = try await ids(firstStage.replacingOccurrences(of: "$N", with: "\(limit)"), index)
                    first.append(stage.seconds)
                    let r = try await ids(twoStage.replacingOccurrences(of: "$N", with: "\(limit)"), index)
                    total.append(r.seconds)
                    contained += Double(Set(stage.ids).intersection(truth[index]).count) / 10
                    recall += Double(Set(r.ids).intersection(truth[index]).count) / 10
                }
                let n = Double(queries)
                return ["candidates": limit, "recall_at_10": (recall / n * 1000).rounded() / 1000,
                        "top10_in_candidates": (contained / n * 1000).rounded() / 1000,
                        "first_stage_p50_ms": SearchBench.milliseconds(SearchBench.percentile(first, 0.5)),
                        "first_stage_p95_ms": SearchBench.milliseconds(SearchBench.percentile(first, 0.95)),
                        "p50_ms": SearchBench.milliseconds(SearchBench.percentile(total, 0.5)),
                        "p95_ms": SearchBench.milliseconds(SearchBench.percentile(total, 0.95))]
            }
            let codes = "maxsim_hamming($2, embedding, 128) DESC, id"
            // The statements the search client runs, without the documents join.
            let stages = [
                "codes": (first: "SELECT id FROM pages ORDER BY \(codes) LIMIT $N",
                          two: """
                              WITH candidates AS (SELECT id, embedding FROM pages ORDER BY \(codes) LIMIT $N)
                              SELECT id FROM candidates ORDER BY maxsim($1, embedding) DESC, id LIMIT 10
                              """),
                // Each candidate's id by its TID (a Tid Scan): as a join, the
                // planner may hash the candidates and scan the whole table.
                "ivf": (first: """
                            SELECT (SELECT p.id FROM pages p WHERE p.ctid = c.page)
                            FROM colpali_ivf_candidates('pages_embedding_ivf', $1, $N) c
                            """,
                        two: """
                            WITH candidates AS MATERIALIZED (SELECT id, embedding <#> $1 AS distance FROM pages ORDER BY embedding <#> $1 LIMIT $N)
                            SELECT id FROM candidates ORDER BY distance, id LIMIT 10
                            """),
            ]
            var rows: [[String: Any]] = []
            for limit in candidates {
                var row: [String: Any]
                if codesCandidates.contains(limit) {
                    row = try await measure(firstStage: stages["codes"]!.first, twoStage: stages["codes"]!.two, limit: limit)
                    row["stage"] = "codes"
                    rows.append(row)
                }
                for p in probes {
                    _ = try await c.query(PostgresQuery(unsafeSQL: "SET colpali.ivf_probes = \(p)"), logger: logger)
                    row = try await measure(firstStage: stages["ivf"]!.first, twoStage: stages["ivf"]!.two, limit: limit)
                    row["stage"] = "ivf"
                    row["probes"] = p
                    rows.append(row)
                }
            }
            var result: [String: Any] = [
                "pages": pages, "rows_per_page": rowsPerPage, "queries": queries, "lists": builtLists,
                "index_bytes": indexBytes, "index_bytes_per_page": (indexBytes / Double(pages)).rounded(),
                "exact_p50_ms": SearchBench.milliseconds(SearchBench.percentile(exactSeconds, 0.5)),
                "exact_p95_ms": SearchBench.milliseconds(SearchBench.percentile(exactSeconds, 0.95)),
                "runs": rows]
            if let buildSeconds { result["build_seconds"] = (buildSeconds * 10).rounded() / 10 }
            return String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self)
        }
        print(json)
    }
}
