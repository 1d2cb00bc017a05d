import ColPaliKernels
import Testing
import TestSupport

@Suite(.serialized)
struct BinaryCodeTests {

    static func quantize(_ x: [Float], rows: Int, dim: Int) -> [UInt8] {
        var codes = [UInt8](repeating: 0xAA, count: rows * colpali_code_bytes(Int32(dim)))
        colpali_binary_quantize(x, Int32(rows), Int32(dim), &codes)
        return codes
    }

    static func signs(_ x: [Float]) -> [Float] { x.map { $0 > 0 ? 1 : -1 } }

    @Test func signBitsMostSignificantFirstRowsPaddedToBytes() {
        let row1: [Float] = [1, -1, 0, 2, 0.5, -3, 0, 1, 1]
        let row2 = [Float](repeating: -1, count: 9)
        #expect(Self.quantize(row1 + row2, rows: 2, dim: 9) == [0x99, 0x80, 0x00, 0x00])
        var onehot = [Float](repeating: 0, count: 16)
        onehot[0] = 1
        onehot[15] = 1
        #expect(Self.quantize(onehot, rows: 1, dim: 16) == [0x80, 0x01])
    }

    @Test func hammingScoreIsMaxSimOfSignVectors() {
        var rng = SeededRandom(11)
        var shapes: [(Int, Int, Int)] = [(20, 1030, 128), (1, 1, 1), (4, 3, 128), (7, 9, 320), (2, 5, 9)]
        for _ in 0..<25 { shapes.append((rng.int(1...40), rng.int(1...600), rng.int(1...700))) }
        for (nq, nd, dim) in shapes {
            let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
            let expected = MaxSimKernelTests.referenceMaxSim(Self.signs(q), nq, Self.signs(d), nd, dim)
            let qc = Self.quantize(q, rows: nq, dim: dim), dc = Self.quantize(d, rows: nd, dim: dim)
            MaxSimKernelTests.withEveryISA { isa in
                let score = colpali_maxsim_hamming(qc, Int32(nq), dc, Int32(nd), Int32(dim))
                #expect(Double(score) == expected, "\(isa) nq=\(nq) nd=\(nd) dim=\(dim)")
            }
        }
    }

    @Test func asymmetricScoreIsMaxSimAgainstDocumentSigns() {
        var rng = SeededRandom(13)
        var shapes: [(Int, Int, Int)] = [(20, 1030, 128), (1, 1, 1), (5, 3, 17), (3, 4, 1024), (2, 2, 8)]
        for _ in 0..<25 { shapes.append((rng.int(1...40), rng.int(1...600), rng.int(1...1024))) }
        for (nq, nd, dim) in shapes {
            let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
            let expected = MaxSimKernelTests.referenceMaxSim(q, nq, Self.signs(d), nd, dim)
            let dc = Self.quantize(d, rows: nd, dim: dim)
            var table = [Float](repeating: .nan, count: colpali_binary_table_floats(Int32(dim)))
            MaxSimKernelTests.withEveryISA { isa in
                // With the lookup tables, and without (bit by bit: no scratch memory).
                let scores = [colpali_maxsim_binary(q, Int32(nq), dc, Int32(nd), Int32(dim), &table),
                              colpali_maxsim_binary(q, Int32(nq), dc, Int32(nd), Int32(dim), nil)]
                for score in scores {
                    let relative = abs(Double(score) - expected) / max(1, abs(expected))
                    #expect(relative <= 1e-4, "\(isa) nq=\(nq) nd=\(nd) dim=\(dim): \(score) vs \(expected)")
                }
            }
        }
    }
}
