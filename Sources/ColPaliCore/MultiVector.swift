/// A late-interaction embedding: `rows` vectors of `dim` floats, row-major.
/// The one multi-vector type of every module: what the model returns, what
/// `pages.embedding` stores (a rows x dim `real[][]`), what a search sends.
public struct MultiVector: Sendable, Equatable, Codable {
    public let rows: Int
    public let dim: Int
    public var values: [Float]
    /// How many leading rows are image patches (a page's patch grid,
    /// row-major); 0 for queries.
    public var patchRows: Int

    public init(rows: Int, dim: Int, values: [Float], patchRows: Int = 0) {
        precondition(rows * dim == values.count, "\(rows) x \(dim) needs \(rows * dim) values, got \(values.count)")
        precondition((0...rows).contains(patchRows), "\(patchRows) patch rows of \(rows)")
        self.rows = rows
        self.dim = dim
        self.values = values
        self.patchRows = patchRows
    }

    /// From nested rows (JSON, Python lists); nil when they are ragged or empty.
    public init?(rows nested: [[Float]], patchRows: Int = 0) {
        guard let dim = nested.first?.count, dim > 0, nested.allSatisfy({ $0.count == dim }),
              (0...nested.count).contains(patchRows) else { return nil }
        self.init(rows: nested.count, dim: dim, values: nested.flatMap { $0 }, patchRows: patchRows)
    }

    public func row(_ index: Int) -> ArraySlice<Float> { values[(index * dim)..<((index + 1) * dim)] }

    /// The rows as nested arrays.
    public var nestedRows: [[Float]] { (0..<rows).map { Array(row($0)) } }
}
