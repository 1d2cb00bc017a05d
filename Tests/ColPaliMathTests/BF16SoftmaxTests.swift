import ColPaliMath
import Foundation
import Testing

/// Attention's probabilities written straight into the next product's A:
/// the exponentials of each row (less its maximum) in bf16, in exactly the
/// place and layout colpali_bf16_from_float gives them for the kernel in
/// use, the padding zero, rows outside the range untouched, and the row's
/// 1 / sum beside them; NaN in a row gives NaN out. (The AVX-512 pass runs
/// with the kernels that read bf16, the portable loop with the others.)
struct BF16SoftmaxTests {
    static let poison: UInt16 = 0x7FC1

    @Test(arguments: BF16GemmTests.kernels, [1030, 7, 33, 64])
    func exponentialsInTheKernelsLayoutAndTheirInverseSums(kernel: String, cols: Int) {
        #expect(colpali_bf16_force_kernel(kernel) == 0)
        defer { _ = colpali_bf16_force_kernel("auto") }
        let (rows, ld, scale, begin) = (37, cols + 5, Float(0.125), 3)
        var state: UInt32 = 777
        var scores: [Float] = (0..<(rows * ld)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return (Float(state >> 8) / Float(1 << 24) * 2 - 1) * 60
        }
        // A row whose exponentials mostly underflow, and one holding a NaN.
        for i in 0..<cols { scores[6 * ld + i] *= 2000 }
        scores[7 * ld + cols / 2] = .nan
        // The reference, in double precision, then converted by from_float.
        var exponentials = [Float](repeating: 0, count: rows * cols)
        var inverse = [Double](repeating: 0, count: rows)
        for r in begin..<rows {
            let row = (0..<cols).map { Double(scores[r * ld + $0]) * Double(scale) }
            let top = row.max()!
            let e = row.map { Foundation.exp($0 - top) }
            inverse[r] = 1 / e.reduce(0, +)
            for i in 0..<cols { exponentials[r * cols + i] = Float(e[i]) }
        }
        let count = colpali_bf16_a_elements(Int32(rows), Int32(cols))
        var expected = [UInt16](repeating: Self.poison, count: count)
        var written = [UInt16](repeating: Self.poison, count: count)
        var sums = [Float](repeating: .nan, count: rows - begin)
        colpali_bf16_from_float(exponentials, Int32(cols), Int32(cols), Int32(begin), Int32(rows), &expected)
        colpali_bf16_softmax_rows(scores, Int32(ld), Int32(cols), scale, Int32(begin), Int32(rows), &written, &sums)

        var worst: Float = 0
        for i in 0..<count {
            if expected[i] == Self.poison || written[i] == Self.poison {
                #expect(expected[i] == written[i], "element \(i): written \(written[i]), expected \(expected[i])")
                continue
            }
            let (w, e) = (Float(bitPattern: UInt32(written[i]) << 16), Float(bitPattern: UInt32(expected[i]) << 16))
            if e.isNaN || w.isNaN {
                #expect(e.isNaN && w.isNaN, "element \(i): written \(w), expected \(e)")
                continue
            }
            // One bf16 step at most: the exponential is approximate.
            worst = max(worst, abs(w - e) / max(e, 1e-30))
        }
        #expect(worst <= 1.0 / 128, "worst relative difference \(worst)")
        for r in begin..<rows {
            if inverse[r].isNaN {
                #expect(sums[r - begin].isNaN, "row \(r) holds a NaN")
            } else {
                #expect(abs(Double(sums[r - begin]) - inverse[r]) <= 1e-5 * inverse[r], "row \(r)")
            }
        }
    }
}
