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

    /// multihalfvec in the binary protocol, as a client would send it.
    struct BinaryMultiHalfVec: PostgresDynamicTypeEncodable {
        let oid: UInt32
        var rows: Int32
        var dim: UInt16
        var unused: UInt16 = 0
        var halves: [UInt16]
        var psqlType: PostgresDataType { PostgresDataType(oid) }
        var psqlFormat: PostgresFormat { .binary }
        func encode<E: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
            buffer.writeInteger(rows)
            buffer.writeInteger(dim)
            buffer.writeInteger(unused)
            for half in halves { buffer.writeInteger(half) }
        }
    }

    /// The binary input is checked before anything is sized from it: a
    /// header that disagrees with the bytes that follow, a shape past the
    /// limits, NaN or infinite values are each a clear ERROR; a good value
    /// reads back as sent.
    @Test func hostileBinaryMultiHalfVecsAreRefused() async throws {
        let settings = try await TestPostgres.freshDatabase(migrated: true)
        let logger = TestPostgres.logger
        try await Database.withConnection(settings, logger: logger) { c in
            let oid = try await c.query("SELECT 'multihalfvec'::regtype::oid::int8", logger: logger).collect().first!.decode(Int64.self)
            func text(_ value: BinaryMultiHalfVec) async throws -> String {
                try await c.query("SELECT \(value)::text", logger: logger).collect().first!.decode(String.self)
            }
            let good = BinaryMultiHalfVec(oid: UInt32(oid), rows: 2, dim: 2, halves: [0x3C00, 0x3800, 0xC000, 0x0000])
            #expect(try await text(good) == "{{1,0.5},{-2,0}}")
            let bad: [(String, BinaryMultiHalfVec, String)] = [
                ("one value short", BinaryMultiHalfVec(oid: UInt32(oid), rows: 2, dim: 2, halves: [0x3C00, 0x3800, 0xC000]),
                 "is not a valid multihalfvec (2 x 2 with 6 bytes of values)"),
                ("2 GB claimed, 8 bytes sent", BinaryMultiHalfVec(oid: UInt32(oid), rows: 65_536, dim: 16_384, halves: [0, 0, 0, 0]),
                 "is not a valid multihalfvec (65536 x 16384 with 8 bytes of values)"),
                ("the reserved field set", BinaryMultiHalfVec(oid: UInt32(oid), rows: 1, dim: 1, unused: 1, halves: [0x3C00]),
                 "is not a valid multihalfvec"),
                ("no columns", BinaryMultiHalfVec(oid: UInt32(oid), rows: 1, dim: 0, halves: []), "value is empty (1 x 0)"),
                ("too many rows", BinaryMultiHalfVec(oid: UInt32(oid), rows: 65_537, dim: 1, halves: []), "more than the maximum of 65536"),
                ("too wide", BinaryMultiHalfVec(oid: UInt32(oid), rows: 1, dim: 16_385, halves: []), "more than the maximum of 16384"),
                ("NaN", BinaryMultiHalfVec(oid: UInt32(oid), rows: 1, dim: 2, halves: [0x3C00, 0x7E00]), "contains NaN or an infinite value"),
                ("Infinity", BinaryMultiHalfVec(oid: UInt32(oid), rows: 1, dim: 1, halves: [0xFC00]), "contains NaN or an infinite value"),
            ]
            for (name, value, message) in bad {
                do {
                    _ = try await text(value)
                    Issue.record("\(name): accepted")
                } catch {
                    #expect(DatabaseErrors.describe(error).contains(message), "\(name): \(DatabaseErrors.describe(error))")
                }
            }
            // The connection is still good after every refusal.
            #expect(try await text(good) == "{{1,0.5},{-2,0}}")
        }
    }
}
