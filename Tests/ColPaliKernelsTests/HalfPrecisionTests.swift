import ColPaliKernels
import Foundation
import Testing

/// Half precision, the format of stored pages: conversions against Swift's
/// own `Float16` (IEEE 754 binary16, round to nearest even), and a 16-bit
/// document scored in pieces exactly as its widened floats are.
@Suite(.serialized)
struct HalfPrecisionTests {
    static func widened(_ halves: [UInt16]) -> [Float] {
        var out = [Float](repeating: 0, count: halves.count)
        colpali_half_to_float(halves, halves.count, &out)
        return out
    }

    /// Every one of the 65,536 bit patterns, on every kernel: exact.
    @Test func wideningIsExactForEveryBitPatternOnEveryKernel() {
        let all = (0...UInt16.max).map { $0 }
        MaxSimKernelTests.withEveryISA { isa in
            let out = Self.widened(all)
            for (bits, value) in zip(all, out) {
                let expected = Float(Float16(bitPattern: bits))
                if expected.isNaN {
                    #expect(value.isNaN, "\(isa): \(bits)")
                } else if value.bitPattern != expected.bitPattern {
                    Issue.record("\(isa): 0x\(String(bits, radix: 16)) widened to \(value), expected \(expected)")
                    return
                }
            }
        }
    }

    /// Rounds as Swift's Float16(Float) does: normals, subnormals, ties to
    /// even, the largest finite half, and underflow to a signed zero.
    @Test func narrowingRoundsToNearestEven() {
        var rng = SystemRandomNumberGenerator()
        var values: [Float] = [0, -0, 1, -1, 0.1, 65504, -65504, 65519.996, 6.1035156e-05, 6.097555e-05,
                               5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 8.940697e-08, 1e-30, -1e-30,
                               Float(bitPattern: 0x3F80_1000), Float(bitPattern: 0x3F80_3000),
                               Float(bitPattern: 0x3F80_1001), Float.leastNonzeroMagnitude]
        for _ in 0..<200_000 {
            // Bit patterns across the whole finite half range and below it.
            let exponent = UInt32.random(in: 90...141, using: &rng)  // below 2^15: every value fits
            values.append(Float(bitPattern: (UInt32.random(in: 0...1, using: &rng) << 31) | (exponent << 23)
                                | UInt32.random(in: 0..<(1 << 23), using: &rng)))
        }
        var halves = [UInt16](repeating: 0, count: values.count)
        #expect(colpali_float_to_half(values, values.count, &halves) == -1)
        for (value, half) in zip(values, halves) where Float16(value).bitPattern != half {
            Issue.record("\(value) (0x\(String(value.bitPattern, radix: 16))) narrowed to 0x\(String(half, radix: 16)), expected 0x\(String(Float16(value).bitPattern, radix: 16))")
            return
        }
    }

    /// NaN, infinities and magnitudes that round beyond 65504 are refused,
    /// at their index; the values before them are written.
    @Test(arguments: [Float.nan, .infinity, -.infinity, 65520, -65520, 1e6, .greatestFiniteMagnitude])
    func narrowingRefusesWhatHalfCannotHold(bad: Float) {
        let values: [Float] = [0.5, -0.25, bad, 1]
        var halves = [UInt16](repeating: 0, count: values.count)
        #expect(colpali_float_to_half(values, values.count, &halves) == 2)
        #expect(halves[0] == Float16(0.5).bitPattern && halves[1] == Float16(-0.25).bitPattern)
    }

    @Test func nonFiniteHalvesAreFound() {
        #expect(colpali_find_nonfinite_half([0x3C00, 0x7BFF, 0xFBFF], 3) == -1)
        #expect(colpali_find_nonfinite_half([0x3C00, 0x7C00], 2) == 1)
        #expect(colpali_find_nonfinite_half([0xFE00, 0], 2) == 0)
    }

    /// A 16-bit document fed in pieces of every awkward size scores exactly
    /// as colpali_maxsim over its widened values, on every kernel.
    /// The shapes the streaming tests feed: a ColPali page, odd widths, one value.
    static let streamShapes = [(20, 1030, 128), (3, 77, 17), (1, 1, 1), (5, 300, 130)]

    /// A random query (nq x dim floats) and document (nd x dim halves).
    static func randomDocument(nq: Int, nd: Int, dim: Int) -> (query: [Float], halves: [UInt16]) {
        var rng = SystemRandomNumberGenerator()
        let query = (0..<(nq * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
        let floats = (0..<(nd * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
        var halves = [UInt16](repeating: 0, count: floats.count)
        #expect(colpali_float_to_half(floats, floats.count, &halves) == -1)
        return (query, halves)
    }

    @Test func aHalfDocumentInPiecesScoresLikeItsWidenedFloats() throws {
        for (nq, nd, dim) in Self.streamShapes {
            let (query, halves) = Self.randomDocument(nq: nq, nd: nd, dim: dim)
            let payload = halves.withUnsafeBytes { Array($0) }
            MaxSimKernelTests.withEveryISA { isa in
                var expected: Float = 0
                #expect(colpali_maxsim(query, Int32(nq), Self.widened(halves), Int32(nd), Int32(dim), &expected) == 0)
                for pieceSize in [1, 3, 1996, 4096, payload.count] {
                    let rows = Int(colpali_stream_staging_rows(Int32(dim)))
                    var rowMax = [Float](repeating: 0, count: nq)
                    var staging = [Float](repeating: 0, count: rows * dim)
                    var score: Float = 0
                    let status: Int32 = query.withUnsafeBufferPointer { q in
                        rowMax.withUnsafeMutableBufferPointer { m in
                            staging.withUnsafeMutableBufferPointer { s in
                                do {
                                    var stream = colpali_stream()
                                    colpali_stream_begin_half(&stream, q.baseAddress, Int32(nq), Int32(dim), m.baseAddress,
                                                              s.baseAddress, Int32(rows))
                                    var offset = 0
                                    while offset < payload.count {
                                        let take = min(pieceSize, payload.count - offset)
                                        payload[offset..<(offset + take)].withUnsafeBytes {
                                            _ = colpali_stream_feed(&stream, $0.baseAddress, take)
                                        }
                                        offset += take
                                    }
                                    return colpali_stream_finish(&stream, Int64(nd), &score)
                                }
                            }
                        }
                    }
                    #expect(status == 0 && score == expected, "\(isa) \(nq)x\(nd)x\(dim) pieces of \(pieceSize): \(score) vs \(expected)")
                }
            }
        }
    }

    /// A payload one half short is not a whole document.
    @Test func aTruncatedHalfDocumentIsRefused() {
        let query: [Float] = [1, 0]
        var rowMax: [Float] = [0], staging = [Float](repeating: 0, count: 64)
        var stream = colpali_stream(), score: Float = 0
        colpali_stream_begin_half(&stream, query, 1, 2, &rowMax, &staging, 32)
        let halves: [UInt16] = [0x3C00, 0, 0, 0x3C00, 0x3C00]
        _ = colpali_stream_feed(&stream, halves, halves.count * 2)
        #expect(colpali_stream_finish(&stream, 3, &score) == -1)
    }

    @Test func codesOfHalvesAreTheCodesOfTheirWidenedValues() {
        var rng = SystemRandomNumberGenerator()
        for dim in [1, 7, 8, 128, 130] {
            let rows = 9
            var halves = (0..<(rows * dim)).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) & 0xFBFF }
            halves[0] = 0x8000  // -0: not positive
            let widened = Self.widened(halves)
            var fromHalves = [UInt8](repeating: 0xFF, count: rows * ((dim + 7) / 8))
            var fromFloats = fromHalves
            colpali_binary_quantize_half(halves, Int32(rows), Int32(dim), &fromHalves)
            colpali_binary_quantize(widened, Int32(rows), Int32(dim), &fromFloats)
            #expect(fromHalves == fromFloats, "dim \(dim)")
        }
    }
}
