import ColPaliCore
import Foundation
import Testing
import TestSupport

/// Hierarchical token pooling against colpali-engine's own pooler
/// (`scripts/fixtures/make_pooling_fixtures.py`): the same clusters, and
/// the same pooled vectors to float rounding.
struct TokenPoolingParityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let rows: Int
            let dim: Int
            let pool_factor: Int
            let input: [Float]
            let pooled_rows: Int
            let pooled: [Float]
            let clusters: [[Int]]
        }
        let generator: String
        let cases: [Case]
    }

    static let fixture: Fixture = try! JSONDecoder().decode(
        Fixture.self, from: Data(contentsOf: Fixtures.reference("token_pooling.json")))

    @Test(arguments: 0..<7)
    func clustersAndPooledVectorsMatchColPaliEngine(index: Int) throws {
        #expect(Self.fixture.cases.count == 7)
        let c = Self.fixture.cases[index]
        let result = try TokenPooling.hierarchical(MultiVector(rows: c.rows, dim: c.dim, values: c.input), factor: c.pool_factor)
        #expect(result.vectors.rows == c.pooled_rows && result.vectors.dim == c.dim)
        #expect(result.clusters == c.clusters, "\(c.rows) rows, factor \(c.pool_factor)")
        #expect(result.vectors.values.count == c.pooled.count)
        let worst = zip(result.vectors.values, c.pooled).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest difference \(worst)")
    }

    @Test func factorOneAndSingleRowsComeBackUnchanged() throws {
        let page = MultiVector(rows: 3, dim: 2, values: [1, 0, 0, 1, 0.6, 0.8])
        #expect(try TokenPooling.hierarchical(page, factor: 1).vectors == page)
        let one = MultiVector(rows: 1, dim: 2, values: [0.6, 0.8])
        #expect(try TokenPooling.hierarchical(one, factor: 3).vectors == one)
    }

    @Test(arguments: [0, -1, TokenPooling.maximumFactor + 1])
    func factorsOutsideTheRangeAreRefused(factor: Int) {
        #expect(throws: TokenPooling.Failure.factorOutOfRange(factor)) {
            try TokenPooling.hierarchical(MultiVector(rows: 2, dim: 1, values: [1, -1]), factor: factor)
        }
    }

    /// Past the row limit pooling refuses before allocating anything: its
    /// memory grows with rows^2.
    @Test func aMultiVectorPastTheRowLimitIsRefused() {
        let rows = TokenPooling.maximumRows + 1
        #expect(throws: TokenPooling.Failure.tooManyRows(rows)) {
            try TokenPooling.hierarchical(MultiVector(rows: rows, dim: 1, values: [Float](repeating: 1, count: rows)), factor: 2)
        }
    }

    /// Every row lands in exactly one cluster, and a page pools to a third of
    /// its rows at factor 3 (400 rows here: a full 1,030-row page takes tens
    /// of seconds in a debug build; bench/pooling_speed.sh times that).
    @Test func aPagePoolsToAThirdOfItsRowsAndEveryRowLandsOnce() throws {
        var rng = SeededRandom(3)
        let page = MultiVector(rows: 400, dim: 128, values: rng.unitRows(400, 128))
        let result = try TokenPooling.hierarchical(page, factor: 3)
        #expect(result.vectors.rows == 133)
        #expect(result.clusters.flatMap { $0 }.sorted() == Array(0..<400))
    }
}
