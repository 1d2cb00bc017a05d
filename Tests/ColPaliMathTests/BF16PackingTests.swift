import ColPaliMath
import Testing

/// Packing a float weight gives the same panels whichever way the weight is
/// laid out: rows contiguous (a Linear weight, attention's keys), columns
/// contiguous (attention's values, packed transposed), or neither; every
/// padding element written as zero, NaN kept a NaN.
struct BF16PackingTests {
    /// Round to nearest even; a NaN stays a (quiet) NaN.
    static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    @Test(arguments: [(72, 1030), (256, 1030), (47, 33), (1, 1), (49, 3), (96, 64), (50, 2)])
    func everyLayoutOfTheSameWeightPacksTheSame(shape: (Int, Int)) {
        let (n, k) = shape
        var state: UInt32 = 99
        var weight: [Float] = (0..<(n * k)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        weight[0] = .nan
        if weight.count > 2 { weight[2] = Float.leastNonzeroMagnitude }
        let element = { (j: Int, i: Int) in weight[j * k + i] }

        let rowStride = k + 5
        var rows = [Float](repeating: 7, count: n * rowStride)
        let columnStride = n + 3
        var columns = [Float](repeating: 7, count: k * columnStride)
        let (strideA, strideB) = (2 * (k + 1), 2)
        var neither = [Float](repeating: 7, count: n * strideA)
        for j in 0..<n {
            for i in 0..<k {
                rows[j * rowStride + i] = element(j, i)
                columns[i * columnStride + j] = element(j, i)
                neither[j * strideA + i * strideB] = element(j, i)
            }
        }
        func pack(_ w: [Float], _ rowStride: Int, _ columnStride: Int) -> [UInt16] {
            let count = colpali_bf16_packed_bytes(Int32(n), Int32(k)) / 2
            var packed = [UInt16](repeating: 0x7FC1, count: count)
            colpali_bf16_pack_strided(w, rowStride, columnStride, Int32(n), Int32(k), &packed, 0,
                                      colpali_bf16_panel_count(Int32(n)))
            return packed
        }
        let fromRows = pack(rows, rowStride, 1)
        #expect(pack(columns, 1, columnStride) == fromRows)
        #expect(pack(neither, strideA, strideB) == fromRows)
        // Each element where the layout (gemm_internal.h) puts it; zeros elsewhere.
        let pairs = Int(colpali_bf16_stride(Int32(k))) / 2  // k-pairs per panel, padding included
        var expected = [UInt16](repeating: 0, count: fromRows.count)
        for j in 0..<n {
            for i in 0..<k {
                let index = (j / 48) * pairs * 96 + ((i / 2) * 48 + j % 48) * 2 + (i & 1)
                expected[index] = Self.bf16Bits(element(j, i))
            }
        }
        #expect(fromRows == expected)
    }
}
