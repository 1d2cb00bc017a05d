import ColPaliStorage
import Foundation
import PostgresNIO

/// The SQL of a search, composed from fixed text and bind parameters only:
/// nothing a caller passes is ever spliced into the statement.
///
/// Two stages: candidates (filters apply here), then an exact `maxsim` of
/// the candidates only. The candidates come from a `colpali_ivf` index when
/// the pages have one (ORDER BY embedding <#> query: the index ranks pages
/// without reading them, and the exact score of each candidate is computed
/// once, in the same scan), otherwise from the binary prefilter over every
/// page's codes. An exact search skips the first stage. Ties are broken by
/// page id (prefilter scores tie often), so the same rows give the same
/// answer on any server, one or a Citus cluster.
public struct SearchQuery: Sendable {
    /// Where a two-stage search finds its candidates.
    public enum CandidateStage: Sendable, Equatable {
        /// Hamming MaxSim over the sign-bit codes of every page: a scan of the codes.
        case codes
        /// The `colpali_ivf` index on the pages.
        case index
    }

    public let sql: String
    public let bindings: PostgresBindings
    /// Human-readable parameter list for --explain.
    public let parameterNotes: [String]

    public var postgresQuery: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }

    public static func compose(query: MultiVector, codes: Data, collection: Collection, limit: Int, candidates: Int?,
                               stage: CandidateStage = .codes, filter: SearchFilter, includeImages: Bool) throws -> SearchQuery {
        var binds = PostgresBindings()
        var notes: [String] = []
        func parameter<T: PostgresEncodable>(_ value: T, _ note: String) throws -> String {
            try binds.append(value)
            notes.append("$\(notes.count + 1) = \(note)")
            return "$\(notes.count)"
        }
        let queryParameter = try parameter(query, "query multi-vector, real[\(query.rows)][\(query.dim)]")
        var conditions = ["d.collection_id = \(try parameter(collection.id, "collection \(collection.id) ('\(collection.name)')"))",
                          "d.status = 'ready'"]
        let texts = [filter.tenant, filter.sourcePrefix].compactMap { $0 }.map(JSONValue.string)
            + (filter.metadataContains.map { [.object($0)] } ?? [])
        if texts.contains(where: \.holdsNUL) {
            throw SearchError.invalidFilter("it holds a NUL character, which PostgreSQL text cannot hold")
        }
        if let tenant = filter.tenant {
            conditions.append("d.tenant = \(try parameter(tenant, "tenant '\(tenant)'"))")
        }
        if let ids = filter.documentIDs {
            conditions.append("d.id = ANY(\(try parameter(ids, "document ids \(ids)")))")
        }
        if let metadata = filter.metadataContains {
            let text = metadata.jsonText
            conditions.append("d.metadata @> \(try parameter(text, "metadata containment \(text)"))::jsonb")
        }
        if let prefix = filter.sourcePrefix {
            conditions.append("starts_with(d.source_uri, \(try parameter(prefix, "source prefix '\(prefix)'")))")
        }
        if let after = filter.createdAfter {
            conditions.append("d.created_at >= \(try parameter(after, "created at or after \(after)"))")
        }
        if let before = filter.createdBefore {
            conditions.append("d.created_at < \(try parameter(before, "created before \(before)"))")
        }
        let image = includeImages ? "p.image, p.image_type" : "NULL::bytea AS image, NULL::text AS image_type"
        let output = """
            p.document_id, p.id, p.page_number, d.source_uri, d.title, d.metadata::text, \(image)
            """
        let sql: String
        if let candidates, stage == .index {
            let candidateParameter = try parameter(candidates, "candidates \(candidates)")
            let limitParameter = try parameter(limit, "limit \(limit)")
            // The scan computes each candidate's <#> (the exact score, negated)
            // for its ORDER BY; selecting it too keeps that the only exact pass.
            // MATERIALIZED: inlined, the planner takes the index's estimated
            // order for an exact one and sorts only the first rows it returns.
            sql = """
                WITH candidates AS MATERIALIZED (
                    SELECT p.document_id, p.id, p.embedding <#> \(queryParameter) AS distance
                    FROM pages p JOIN documents d ON d.id = p.document_id
                    WHERE \(conditions.joined(separator: " AND "))
                    ORDER BY p.embedding <#> \(queryParameter)
                    LIMIT \(candidateParameter))
                SELECT (-c.distance)::real AS score, \(output)
                FROM candidates c
                JOIN pages p ON p.document_id = c.document_id AND p.id = c.id
                JOIN documents d ON d.id = p.document_id
                ORDER BY score DESC, p.id
                LIMIT \(limitParameter)
                """
        } else if let candidates {
            let codesParameter = try parameter(codes, "query sign-bit codes, \(codes.count) bytes")
            let dimParameter = try parameter(Int32(query.dim), "dimension \(query.dim)")
            let candidateParameter = try parameter(candidates, "candidates \(candidates)")
            let limitParameter = try parameter(limit, "limit \(limit)")
            sql = """
                WITH candidates AS (
                    SELECT p.document_id, p.id
                    FROM pages p JOIN documents d ON d.id = p.document_id
                    WHERE \(conditions.joined(separator: " AND "))
                    ORDER BY maxsim_hamming(\(codesParameter), p.embedding, \(dimParameter)) DESC, p.id
                    LIMIT \(candidateParameter))
                SELECT maxsim(\(queryParameter), p.embedding) AS score, \(output)
                FROM candidates c
                JOIN pages p ON p.document_id = c.document_id AND p.id = c.id
                JOIN documents d ON d.id = p.document_id
                ORDER BY score DESC, p.id
                LIMIT \(limitParameter)
                """
        } else {
            let limitParameter = try parameter(limit, "limit \(limit)")
            sql = """
                SELECT maxsim(\(queryParameter), p.embedding) AS score, \(output)
                FROM pages p JOIN documents d ON d.id = p.document_id
                WHERE \(conditions.joined(separator: " AND "))
                ORDER BY score DESC, p.id
                LIMIT \(limitParameter)
                """
        }
        return SearchQuery(sql: sql, bindings: binds, parameterNotes: notes)
    }

    /// The statement and its parameters, for people to read and reuse.
    public var explanation: String {
        sql + "\n-- parameters:\n" + parameterNotes.map { "--   \($0)" }.joined(separator: "\n")
    }
}
