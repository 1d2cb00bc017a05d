/// A small deterministic generator (a 64-bit LCG) for randomised tests:
/// the same seed gives the same data on every machine.
public struct SeededRandom {
    public var state: UInt64

    public init(_ seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// Uniform in [-1, 1].
    public mutating func float() -> Float { Float(next() % 2_000_001) / 1_000_000 - 1 }

    public mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in float() } }

    /// `rows` vectors of `dim` values, each scaled to unit length.
    public mutating func unitRows(_ rows: Int, _ dim: Int) -> [Float] {
        var values = floats(rows * dim)
        for r in 0..<rows {
            let norm = (0..<dim).reduce(Float(0)) { $0 + values[r * dim + $1] * values[r * dim + $1] }.squareRoot()
            for k in 0..<dim { values[r * dim + k] /= norm }
        }
        return values
    }
}
