import Foundation

/// Synthetic ColPali-shaped data for the benchmarks: pages of 1,030 x 128
/// L2-normalised vectors drawn around a shared set of topic centroids (so
/// pages resemble each other the way pages of related documents do), and
/// queries of 20 vectors built from rows of a known target page plus noise.
/// Deterministic in its seed; page i is the same whoever generates it.
/// With fewer rows per page, page i keeps its topics and has fewer rows
/// drawn around them (for first-stage runs at a scale whose full vectors
/// would not fit on disk).
struct SyntheticCorpus {
    let seed: UInt64
    let dim = 128
    let rowsPerPage: Int
    let queryRows = 20
    let topicCount = 512
    let topicsPerPage = 16
    /// Weight of a row's topic against its own noise (both unit vectors).
    let topicWeight: Float = 0.75
    let queryNoise: Float = 0.6
    let topics: [Float]

    init(seed: UInt64 = 42, rowsPerPage: Int = 1030) {
        self.seed = seed
        self.rowsPerPage = rowsPerPage
        var random = SplitMix(seed: seed)
        topics = Self.unitRows(topicCount, dim: 128, random: &random)
    }

    /// A page's rows: each a mix of one of the page's topics and fresh noise.
    func page(_ index: Int) -> [Float] {
        var random = SplitMix(seed: seed &+ 0x9E37_79B9 &* UInt64(index + 1))
        let chosen = (0..<topicsPerPage).map { _ in Int(random.next() % UInt64(topicCount)) }
        let noise = Self.unitRows(rowsPerPage, dim: dim, random: &random)
        var rows = [Float](repeating: 0, count: rowsPerPage * dim)
        for r in 0..<rowsPerPage {
            let topic = chosen[Int(random.next() % UInt64(topicsPerPage))]
            for k in 0..<dim {
                rows[r * dim + k] = topicWeight * topics[topic * dim + k] + (1 - topicWeight) * noise[r * dim + k]
            }
        }
        Self.normalise(&rows, dim: dim)
        return rows
    }

    /// A query aimed at `target`: rows of that page, perturbed.
    func query(_ number: Int, target: Int) -> [Float] {
        let source = page(target)
        var random = SplitMix(seed: seed &+ 0xC2B2_AE35 &* UInt64(number + 1))
        let noise = Self.unitRows(queryRows, dim: dim, random: &random)
        var rows = [Float](repeating: 0, count: queryRows * dim)
        for r in 0..<queryRows {
            let pick = Int(random.next() % UInt64(rowsPerPage))
            for k in 0..<dim { rows[r * dim + k] = source[pick * dim + k] + queryNoise * noise[r * dim + k] }
        }
        Self.normalise(&rows, dim: dim)
        return rows
    }

    static func unitRows(_ count: Int, dim: Int, random: inout SplitMix) -> [Float] {
        var rows = [Float](repeating: 0, count: count * dim)
        var i = 0
        while i < rows.count {
            // Box-Muller: two normals per pair of uniforms.
            let u1 = max(Float(random.next() >> 40) / Float(1 << 24), 1e-7)
            let u2 = Float(random.next() >> 40) / Float(1 << 24)
            let radius = (-2 * log(u1)).squareRoot()
            rows[i] = radius * cos(2 * .pi * u2)
            if i + 1 < rows.count { rows[i + 1] = radius * sin(2 * .pi * u2) }
            i += 2
        }
        normalise(&rows, dim: dim)
        return rows
    }

    static func normalise(_ rows: inout [Float], dim: Int) {
        for r in 0..<(rows.count / dim) {
            var norm: Float = 0
            for k in 0..<dim { norm += rows[r * dim + k] * rows[r * dim + k] }
            let scale = 1 / norm.squareRoot()
            for k in 0..<dim { rows[r * dim + k] *= scale }
        }
    }
}

/// A small, fast, splittable PRNG (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
