import ColPaliKernels
import Testing
import TestSupport

/// colpali_nearest, which files every token of every page under a centroid
/// when the candidate index is built, on every instruction set this CPU has.
/// The vector paths sum each dot product with fused multiply-adds in
/// dimension order, so they must pick exactly the centroid a Float
/// reference summed the same way picks (the first among equals); the scalar
/// path must pick a centroid whose score is the best.
@Suite(.serialized)
struct NearestCentroidTests {
    static func nearest(_ x: [Float], rows: Int, _ centroids: [Float], k: Int, dim: Int) -> [Int32] {
        var layout = [Float](repeating: .nan, count: colpali_nearest_layout_floats(Int32(k), Int32(dim)))
        colpali_nearest_layout(centroids, Int32(k), Int32(dim), &layout)
        var index = [Int32](repeating: -1, count: rows)
        colpali_nearest(x, Int32(rows), layout, Int32(k), Int32(dim), &index)
        return index
    }

    static func score(_ x: [Float], row: Int, _ centroids: [Float], centroid: Int, dim: Int) -> Float {
        var s: Float = 0
        for d in 0..<dim { s = s.addingProduct(x[row * dim + d], centroids[centroid * dim + d]) }
        return s
    }

    /// Row and centroid counts around the 8-row and 24/48-centroid blocks,
    /// with an odd number of panels (the last one alone) and an even one.
    @Test(arguments: [(1, 1, 1), (7, 23, 3), (8, 24, 128), (9, 25, 128), (17, 47, 16),
                      (16, 48, 128), (33, 49, 128), (5, 71, 128), (12, 73, 64), (40, 1024, 128)])
    func picksTheBestCentroidOnEveryInstructionSet(rows: Int, k: Int, dim: Int) {
        var random = SeededRandom(UInt64(rows * 1_000 + k))
        let x = (0..<rows * dim).map { _ in random.float() }
        let centroids = (0..<k * dim).map { _ in random.float() }
        MaxSimKernelTests.withEveryISA { isa in
            let found = Self.nearest(x, rows: rows, centroids, k: k, dim: dim)
            for r in 0..<rows {
                let scores = (0..<k).map { Self.score(x, row: r, centroids, centroid: $0, dim: dim) }
                let best = scores.max()!
                guard (0..<Int32(k)).contains(found[r]) else {
                    Issue.record("\(isa): row \(r) of \(rows), \(k) centroids: index \(found[r]) out of range")
                    continue
                }
                if isa == "scalar" {
                    #expect(abs(scores[Int(found[r])] - best) <= 1e-5, "\(isa): row \(r), \(k) centroids")
                } else {
                    #expect(Int(found[r]) == scores.firstIndex(of: best)!, "\(isa): row \(r) of \(rows), \(k) centroids, dim \(dim)")
                }
            }
        }
    }

    /// Every score below zero (tokens opposite every centroid): the lanes
    /// past the last centroid, which the kernel fills itself, must not win.
    @Test(arguments: [23, 49, 71, 1024])
    func theBestOfNegativeScoresIsACentroid(k: Int) {
        let dim = 128, rows = 11
        var random = SeededRandom(UInt64(k))
        let centroids = (0..<k * dim).map { _ in abs(random.float()) + 0.01 }
        let x = (0..<rows * dim).map { _ in -abs(random.float()) - 0.01 }
        MaxSimKernelTests.withEveryISA { isa in
            let found = Self.nearest(x, rows: rows, centroids, k: k, dim: dim)
            for r in 0..<rows {
                let scores = (0..<k).map { Self.score(x, row: r, centroids, centroid: $0, dim: dim) }
                #expect(abs(scores[Int(found[r])] - scores.max()!) <= 1e-5, "\(isa): row \(r), \(k) centroids")
            }
        }
    }

    /// Equal centroids in different lanes and panels: the first one wins.
    @Test func aTieGoesToTheFirstCentroid() {
        let dim = 128, k = 100
        var random = SeededRandom(7)
        var centroids = (0..<k * dim).map { _ in (random.float()) * 0.01 }
        let winner = (0..<dim).map { _ in random.float() * 0.5 + 1 }
        for copy in [30, 17, 77, 99] { centroids.replaceSubrange(copy * dim..<(copy + 1) * dim, with: winner) }
        let x = Array(repeating: winner, count: 9).flatMap { $0 }
        MaxSimKernelTests.withEveryISA { isa in
            #expect(Self.nearest(x, rows: 9, centroids, k: k, dim: dim) == Array(repeating: 17, count: 9), "\(isa)")
        }
    }

    /// A NaN in a token matches no centroid better than another: it is filed
    /// under the first, on every path, and its neighbours are unaffected.
    @Test func aNaNTokenIsFiledUnderTheFirstCentroid() {
        let dim = 16, k = 50
        var random = SeededRandom(9)
        let centroids = (0..<k * dim).map { _ in random.float() }
        var x = (0..<3 * dim).map { _ in random.float() }
        x[dim + 4] = .nan
        MaxSimKernelTests.withEveryISA { isa in
            let found = Self.nearest(x, rows: 3, centroids, k: k, dim: dim)
            #expect(found[1] == 0, "\(isa)")
            for r in [0, 2] {
                let scores = (0..<k).map { Self.score(x, row: r, centroids, centroid: $0, dim: dim) }
                #expect(abs(scores[Int(found[r])] - scores.max()!) <= 1e-5, "\(isa): row \(r)")
            }
        }
    }
}
