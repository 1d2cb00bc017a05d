/// Scores computed the obvious way, in double precision, sharing no code with
/// the C kernels: what the kernels, the extension and the search client are
/// checked against.
public enum ReferenceScores {
    /// Values as the pages table stores them (multihalfvec): each rounded to
    /// the nearest half by Swift's own Float16, not by the code under test.
    public static func asStored(_ values: [Float]) -> [Float] {
        values.map { Float(Float16($0)) }
    }

    /// <q_i, d_j> for every query row i and document row j, row-major.
    public static func dots(_ query: [Float], rows nq: Int, _ document: [Float], rows nd: Int, dim: Int) -> [Double] {
        precondition(query.count == nq * dim && document.count == nd * dim)
        var out = [Double](repeating: 0, count: nq * nd)
        for i in 0..<nq {
            for j in 0..<nd {
                var s = 0.0
                for k in 0..<dim { s += Double(query[i * dim + k]) * Double(document[j * dim + k]) }
                out[i * nd + j] = s
            }
        }
        return out
    }

    /// Sum over query rows of the best dot product with any document row.
    public static func maxSim(_ query: [Float], rows nq: Int, _ document: [Float], rows nd: Int, dim: Int) -> Double {
        let all = dots(query, rows: nq, document, rows: nd, dim: dim)
        return (0..<nq).reduce(0.0) { total, i in total + all[(i * nd)..<((i + 1) * nd)].max()! }
    }
}
