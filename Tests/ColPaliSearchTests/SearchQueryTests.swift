@testable import ColPaliSearch
@testable import ColPaliStorage
import Foundation
import Testing

/// The search statement as composed, without a database: what is bound,
/// what is fixed text, and the shape of each stage.
struct SearchQueryTests {
    let collection = Collection(id: 7, name: "manuals", modelIdentity: "name:m", modelName: "m", embeddingDimension: 2,
                                promptFormat: .transformers, createdAt: Date(timeIntervalSince1970: 0))
    let query = MultiVector(rows: 2, dim: 2, values: [1, 0, 0, 1])
    let codes = Data([0x80, 0x40])

    func compose(candidates: Int?, filter: SearchFilter = SearchFilter()) throws -> SearchQuery {
        try SearchQuery.compose(query: query, codes: codes, collection: collection, limit: 10, candidates: candidates,
                                filter: filter, includeImages: false)
    }

    @Test func twoStagesRankCandidatesByTheirCodesThenByExactMaxSim() throws {
        let sql = try compose(candidates: 100).sql
        // Stage one: the best codes first (DESC), ties by page id, cut at the candidate count.
        #expect(sql.contains("WHERE d.collection_id = $2 AND d.status = 'ready'\n"))
        #expect(sql.contains("ORDER BY maxsim_hamming($3, p.embedding, $4) DESC, p.id\n    LIMIT $5)"), "\(sql)")
        // Stage two: exact scores of the candidates only, best first.
        #expect(sql.contains("SELECT maxsim($1, p.embedding) AS score"))
        #expect(sql.contains("FROM candidates c\nJOIN pages p ON p.document_id = c.document_id AND p.id = c.id"))
        #expect(sql.hasSuffix("ORDER BY score DESC, p.id\nLIMIT $6"))
    }

    @Test func exactSearchHasNoPrefilter() throws {
        let exact = try compose(candidates: nil)
        #expect(!exact.sql.contains("maxsim_hamming") && !exact.sql.contains("candidates"))
        #expect(exact.sql.contains("WHERE d.collection_id = $2 AND d.status = 'ready'"))
        #expect(exact.sql.hasSuffix("ORDER BY score DESC, p.id\nLIMIT $3"))
        #expect(exact.parameterNotes.count == 3)
    }

    /// Every value a caller passes is a parameter; the statement's text is
    /// the same whatever the values.
    @Test func filterValuesAreBoundNeverSpliced() throws {
        let hostile = "x'; DROP TABLE pages; --"
        let filter = SearchFilter(documentIDs: [1, 2], metadataContains: ["team": .string(hostile)], sourcePrefix: hostile,
                                  createdAfter: Date(timeIntervalSince1970: 1), createdBefore: Date(timeIntervalSince1970: 2),
                                  tenant: hostile)
        let composed = try compose(candidates: 50, filter: filter)
        #expect(!composed.sql.contains(hostile) && !composed.sql.contains("DROP"))
        for condition in ["d.tenant = $", "d.id = ANY($", "d.metadata @> $", "starts_with(d.source_uri, $", "d.created_at >= $",
                          "d.created_at < $"] {
            #expect(composed.sql.contains(condition), "\(condition)")
        }
        #expect(composed.bindings.count == composed.parameterNotes.count && composed.bindings.count == 12)
        let other = try compose(candidates: 50, filter: SearchFilter(documentIDs: [9], metadataContains: ["a": .number(1)],
                                                                      sourcePrefix: "file:///", createdAfter: Date(), createdBefore: Date(),
                                                                      tenant: "acme"))
        #expect(other.sql == composed.sql)
        #expect(composed.explanation.contains("-- parameters:\n--   $1 = query multi-vector, real[2][2]"))
    }
}
