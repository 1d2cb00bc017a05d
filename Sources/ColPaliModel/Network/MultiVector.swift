/// One embedded page or query: every token the model returns, `dim` floats
/// each, row-major.
public struct MultiVector: Sendable, Equatable {
    public let rows: Int
    public let dim: Int
    public var values: [Float]
    /// Which rows are image patches (on the patch grid, row-major), for
    /// similarity maps; all false for queries.
    public var isImagePatch: [Bool]

    public init(rows: Int, dim: Int, values: [Float], isImagePatch: [Bool]) {
        precondition(values.count == rows * dim && isImagePatch.count == rows)
        self.rows = rows
        self.dim = dim
        self.values = values
        self.isImagePatch = isImagePatch
    }

    public func row(_ index: Int) -> ArraySlice<Float> { values[(index * dim)..<((index + 1) * dim)] }

    /// Number of image-patch rows.
    public var patchCount: Int { isImagePatch.lazy.filter { $0 }.count }
}
