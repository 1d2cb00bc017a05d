import Foundation

/// Hierarchical token pooling: a page's vectors merged into about
/// `rows / factor` cluster means, as colpali-engine's
/// `HierarchicalTokenPooler` makes them (the ColPali authors report ~97.8%
/// of retrieval quality kept at factor 3 with a third of the vectors).
///
/// The same algorithm, step by step, so a pooled page stored here scores as
/// one pooled by the reference would (checked against its outputs in
/// `Tests/Fixtures/reference/token_pooling.json`):
/// 1. similarities `S = E Eᵀ` (float), and the matrix `1 - S`;
/// 2. Ward linkage over the Euclidean distances between the rows of `1 - S`
///    (scipy's `linkage(..., method="ward")` on that matrix: its rows are
///    treated as observations);
/// 3. `max(rows / factor, 1)` flat clusters (scipy's `fcluster(...,
///    criterion="maxclust")`), numbered in scipy's order;
/// 4. each cluster's mean, scaled to unit length, in cluster order.
///
/// Differences: factor 1 and single-row inputs come back unchanged (the
/// reference refuses a single row).
public enum TokenPooling {
    /// A pooled multi-vector and the input rows behind each of its rows.
    public struct Result: Sendable, Equatable {
        public let vectors: MultiVector
        /// `clusters[i]`: the input rows averaged into row `i`, ascending.
        public let clusters: [[Int]]
    }

    /// The largest factor accepted: beyond it a page would keep a handful
    /// of vectors, which is not what anyone asking for pooling wants.
    public static let maximumFactor = 64
    /// The most rows pooled: the clustering takes rows^2 doubles of memory
    /// twice over (270 MB at this limit) and rows^3 time. A ColPali page has
    /// 1,030 rows.
    public static let maximumRows = 4_096

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case factorOutOfRange(Int)
        case tooManyRows(Int)

        public var description: String {
            switch self {
            case .factorOutOfRange(let factor):
                "pool factor \(factor) is outside 1...\(TokenPooling.maximumFactor)"
            case .tooManyRows(let rows):
                "a multi-vector of \(rows) rows is too large to pool (at most \(TokenPooling.maximumRows))"
            }
        }
    }

    public static func hierarchical(_ embedding: MultiVector, factor: Int) throws(Failure) -> Result {
        guard (1...maximumFactor).contains(factor) else { throw .factorOutOfRange(factor) }
        let n = embedding.rows
        guard factor > 1, n > 1 else {
            return Result(vectors: embedding, clusters: (0..<n).map { [$0] })
        }
        guard n <= maximumRows else { throw .tooManyRows(n) }
        let merges = wardLinkage(observations(embedding), n: n)
        let labels = flatClusters(merges, n: n, count: max(n / factor, 1))
        return pool(embedding, labels: labels)
    }

    /// The rows of `1 - E Eᵀ` (n x n), computed in Float as the reference
    /// does, then widened for the distances.
    static func observations(_ e: MultiVector) -> [Double] {
        let n = e.rows, dim = e.dim
        var x = [Double](repeating: 0, count: n * n)
        e.values.withUnsafeBufferPointer { v in
            for i in 0..<n {
                for j in i..<n {
                    var s: Float = 0
                    for k in 0..<dim { s += v[i * dim + k] * v[j * dim + k] }
                    x[i * n + j] = Double(1 - s)
                    x[j * n + i] = Double(1 - s)
                }
            }
        }
        return x
    }

    /// One merge of the dendrogram: the two clusters (leaves 0..<n, the
    /// cluster made by merge i is n + i) and their Ward distance.
    struct Merge: Equatable {
        var left: Int
        var right: Int
        var distance: Double
    }

    /// Ward linkage by the nearest-neighbour chain, as scipy's `nn_chain`
    /// does it (same scan order and tie rule, so the same merges), then the
    /// merges in order of distance (stable) with scipy's cluster numbering.
    static func wardLinkage(_ x: [Double], n: Int) -> [Merge] {
        // Condensed pairwise Euclidean distances between the rows.
        var d = [Double](repeating: 0, count: n * (n - 1) / 2)
        func index(_ a: Int, _ b: Int) -> Int {
            let (i, j) = a < b ? (a, b) : (b, a)
            return n * i - (i * (i + 1)) / 2 + (j - i - 1)
        }
        // The O(n^3) part of pooling (1,030 rows: 0.5 G multiply-adds):
        // eight lanes of partial sums, then the rest one by one.
        x.withUnsafeBufferPointer { x in
            let base = x.baseAddress!
            let wide = n / 8 * 8
            for i in 0..<n {
                let a = base + i * n
                for j in (i + 1)..<n {
                    let b = base + j * n
                    var lanes = SIMD8<Double>()
                    var k = 0
                    while k < wide {
                        let t = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD8<Double>.self)
                            - UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Double>.self)
                        lanes += t * t
                        k += 8
                    }
                    var s = lanes.sum()
                    while k < n {
                        let t = a[k] - b[k]
                        s += t * t
                        k += 1
                    }
                    d[index(i, j)] = s.squareRoot()
                }
            }
        }
        var size = [Int](repeating: 1, count: n)
        var chain: [Int] = []
        var raw: [Merge] = []
        raw.reserveCapacity(n - 1)
        for _ in 0..<(n - 1) {
            if chain.isEmpty { chain = [size.firstIndex { $0 > 0 }!] }
            var x = 0, y = 0, best = Double.infinity
            while true {
                x = chain[chain.count - 1]
                if chain.count > 1 {
                    y = chain[chain.count - 2]
                    best = d[index(x, y)]
                } else {
                    best = .infinity
                }
                for i in 0..<n where size[i] > 0 && i != x {
                    let candidate = d[index(x, i)]
                    if candidate < best { best = candidate; y = i }
                }
                if chain.count > 1 && y == chain[chain.count - 2] { break }
                chain.append(y)
            }
            chain.removeLast(2)
            if x > y { swap(&x, &y) }
            let nx = size[x], ny = size[y]
            raw.append(Merge(left: x, right: y, distance: best))
            size[x] = 0
            size[y] = nx + ny
            for i in 0..<n where size[i] > 0 && i != y {
                let ni = Double(size[i])
                let t = 1.0 / (Double(nx + ny) + ni)
                let dxi = d[index(i, x)], dyi = d[index(i, y)]
                d[index(i, y)] = ((ni + Double(nx)) * t * dxi * dxi + (ni + Double(ny)) * t * dyi * dyi
                                  - ni * t * best * best).squareRoot()
            }
        }
        // Stable sort by distance, then number clusters by union-find.
        let ordered = raw.enumerated().sorted { ($0.element.distance, $0.offset) < ($1.element.distance, $1.offset) }.map(\.element)
        var parent = Array(0..<(2 * n - 1))
        func find(_ a: Int) -> Int {
            var a = a
            while parent[a] != a { parent[a] = parent[parent[a]]; a = parent[a] }
            return a
        }
        return ordered.enumerated().map { step, merge in
            let a = find(merge.left), b = find(merge.right)
            parent[a] = n + step
            parent[b] = n + step
            return Merge(left: min(a, b), right: max(a, b), distance: merge.distance)
        }
    }

    /// At most `count` flat clusters: the tree cut below the smallest merge
    /// distance that leaves no more than `count` (Ward distances only grow
    /// towards the root). Labels 0..<k in the order scipy's `fcluster`
    /// numbers them: depth first from the root; a cluster is numbered when
    /// its top is reached, and a node's single leaves after both of its
    /// merged children (left before right).
    static func flatClusters(_ merges: [Merge], n: Int, count: Int) -> [Int] {
        let cutoff = n - count > 0 ? merges.map(\.distance).sorted()[n - count - 1] : -Double.infinity
        var labels = [Int](repeating: -1, count: n)
        var next = 0
        func leaf(_ node: Int, _ label: Int) {
            if label >= 0 {
                labels[node] = label
            } else {
                labels[node] = next
                next += 1
            }
        }
        func visit(_ node: Int, _ inherited: Int) {
            let merge = merges[node - n]
            var label = inherited
            if label < 0 && merge.distance <= cutoff {
                label = next
                next += 1
            }
            if merge.left >= n { visit(merge.left, label) }
            if merge.right >= n { visit(merge.right, label) }
            if merge.left < n { leaf(merge.left, label) }
            if merge.right < n { leaf(merge.right, label) }
        }
        visit(2 * n - 2, -1)
        return labels
    }

    /// Each cluster's mean, scaled to unit length, in label order.
    static func pool(_ e: MultiVector, labels: [Int]) -> Result {
        let k = (labels.max() ?? -1) + 1, dim = e.dim
        var clusters = [[Int]](repeating: [], count: k)
        for (row, label) in labels.enumerated() { clusters[label].append(row) }
        var values = [Float](repeating: 0, count: k * dim)
        for (c, members) in clusters.enumerated() {
            for row in members {
                for j in 0..<dim { values[c * dim + j] += e.values[row * dim + j] }
            }
            var norm: Float = 0
            for j in 0..<dim {
                values[c * dim + j] /= Float(members.count)
                norm += values[c * dim + j] * values[c * dim + j]
            }
            let scale = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<dim { values[c * dim + j] *= scale }
        }
        return Result(vectors: MultiVector(rows: k, dim: dim, values: values), clusters: clusters)
    }
}
