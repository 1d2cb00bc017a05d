@testable import ColPaliModel
import Testing

/// The bf16 attention runs in blocks of query rows, each thread taking
/// (head, block) units; the fixtures' sequences are shorter than one block,
/// so these sequences are long enough for several blocks and a partial last
/// one, with grouped key-value heads and two segments of different lengths.
/// The reference is the float32 path (OpenBLAS, head after head).
struct AttentionTests {
    @Test(arguments: [1, 2, 3])
    func blockedBF16AttentionMatchesFloat32(threads: Int) {
        let layout = AttentionLayout(heads: 4, keyValueHeads: 2, headDim: 40)
        let segments = [0..<150, 150..<173]
        let tokens = segments.last!.upperBound
        var state: UInt32 = 7
        func random() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let qkv = Matrix(rows: tokens, cols: layout.fusedWidth, values: (0..<(tokens * layout.fusedWidth)).map { _ in random() })
        let context = ComputeContext(threads: threads)
        let exact = Matrix(rows: tokens, cols: layout.queryWidth, zeroed: true)
        let fast = Matrix(rows: tokens, cols: layout.queryWidth, zeroed: true)
        layout.attend(qkv, segments: segments, scale: 0.5, into: exact, precision: .fp32, workspace: Workspace(),
                      context: context)
        layout.attend(qkv, segments: segments, scale: 0.5, into: fast, precision: .bf16, workspace: Workspace(),
                      context: context)
        var worst: Float = 0
        for row in 0..<tokens {
            for column in 0..<layout.queryWidth {
                let difference = abs(exact.row(row)[column] - fast.row(row)[column])
                worst = difference.isNaN ? .infinity : max(worst, difference)  // max() would pass a NaN over
            }
        }
        // Each output is a convex combination of values in [-1, 1]: bf16
        // rounding of q, k, p and v stays well inside 0.02.
        #expect(worst < 0.02, "max |bf16 - fp32| = \(worst)")
        #expect(worst > 0, "the bf16 path must have run (and rounded)")
    }
}
