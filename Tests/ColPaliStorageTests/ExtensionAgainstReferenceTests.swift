import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The extension's functions on a real server against a double-precision
/// reference, over random shapes; stored (TOASTed) and inline documents.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct ExtensionAgainstReferenceTests {
    static func matrix(_ rows: Int, _ dim: Int, _ rng: inout SeededRandom) -> MultiVector {
        MultiVector(rows: rows, dim: dim, values: rng.floats(rows * dim))
    }

    static func reference(_ q: MultiVector, _ d: MultiVector, sign: Bool = false, signQuery: Bool = false) -> Double {
        func value(_ x: Float, _ signed: Bool) -> Double { signed ? (x > 0 ? 1 : -1) : Double(x) }
        var total = 0.0
        for i in 0..<q.rows {
            var best = -Double.infinity
            for j in 0..<d.rows {
                var s = 0.0
                for k in 0..<q.dim { s += value(q.values[i * q.dim + k], signQuery) * value(d.values[j * d.dim + k], sign) }
                best = max(best, s)
            }
            total += best
        }
        return total
    }

    @Test func randomShapesMatchTheReference() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        let logger = TestPostgres.logger
        var rng = SeededRandom(2024)
        var shapes: [(Int, Int, Int)] = [(20, 1030, 128), (1, 1, 1), (64, 2048, 7), (3, 600, 320), (5, 1, 1024)]
        for _ in 0..<10 { shapes.append((rng.int(1...64), rng.int(1...2048), rng.int(1...1024))) }
        do { try await Database.withConnection(settings, logger: logger) { c in
            _ = try await c.query("CREATE TEMP TABLE docs (id int, embedding real[])", logger: logger)
            _ = try await c.query("ALTER TABLE docs ALTER COLUMN embedding SET STORAGE EXTERNAL", logger: logger)
            _ = try await c.query("CREATE TEMP TABLE half_docs (id int, embedding multihalfvec)", logger: logger)
            for (index, (nq, nd, dim)) in shapes.enumerated() {
                let q = Self.matrix(nq, dim, &rng), d = Self.matrix(nd, dim, &rng)
                _ = try await c.query("INSERT INTO docs VALUES (\(index), \(d))", logger: logger)
                _ = try await c.query("INSERT INTO half_docs VALUES (\(index), \(d))", logger: logger)
                let row = try await c.query("""
                    SELECT maxsim(\(q), embedding), maxsim(\(q), \(d)),
                           maxsim_hamming(binary_quantize(\(q)), binary_quantize(embedding), \(Int32(dim))),
                           maxsim_binary(\(q), binary_quantize(embedding))
                    FROM docs WHERE id = \(index)
                    """, logger: logger).collect().first!
                let (stored, inline, hamming, binary) = try row.decode((Float, Float, Float, Float).self)
                let exact = Self.reference(q, d)
                let scale = max(1e-6, abs(exact))
                #expect(abs(Double(stored) - exact) / scale <= 1e-4, "stored \(nq)x\(nd)x\(dim): \(stored) vs \(exact)")
                #expect(abs(Double(inline) - exact) / scale <= 1e-4, "inline \(nq)x\(nd)x\(dim): \(inline) vs \(exact)")
                #expect(Double(hamming) == Self.reference(q, d, sign: true, signQuery: true), "hamming \(nq)x\(nd)x\(dim)")
                // Half precision: the score of the values rounded by Swift's
                // own Float16, stored out of line (streamed) and inline.
                let halfRow = try await c.query("""
                    SELECT maxsim(\(q), embedding), maxsim(\(q), \(d)::multihalfvec) FROM half_docs WHERE id = \(index)
                    """, logger: logger).collect().first!
                let (storedHalf, inlineHalf) = try halfRow.decode((Float, Float).self)
                let rounded = MultiVector(rows: d.rows, dim: d.dim, values: d.values.map { Float(Float16($0)) })
                let exactHalf = Self.reference(q, rounded)
                #expect(abs(Double(storedHalf) - exactHalf) / max(1e-6, abs(exactHalf)) <= 1e-4, "stored half \(nq)x\(nd)x\(dim): \(storedHalf) vs \(exactHalf)")
                #expect(storedHalf == inlineHalf, "half \(nq)x\(nd)x\(dim): streamed \(storedHalf), inline \(inlineHalf)")
                let asymmetric = Self.reference(q, d, sign: true)
                #expect(abs(Double(binary) - asymmetric) / max(1, abs(asymmetric)) <= 1e-4, "binary \(nq)x\(nd)x\(dim)")
            }
        } } catch {
            Issue.record("\(DatabaseErrors.describe(error))")
        }
    }
}
