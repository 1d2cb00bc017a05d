import ColPaliKernels
import Testing

/// Sign planes, the layout of a stored 16-bit page with its codes first: the
/// values come back exactly (a -0 as +0), the codes are binary_quantize's,
/// and a page streamed in pieces scores as its halves do, on every kernel.
@Suite(.serialized)
struct SignPlanesTests {
    static let dims = [1, 7, 8, 15, 16, 17, 18, 31, 128, 130]

    /// Random finite halves, with zeros of both signs, subnormals and the
    /// largest magnitudes mixed in.
    static func halves(_ count: Int) -> [UInt16] {
        var rng = SystemRandomNumberGenerator()
        let special: [UInt16] = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x7BFF, 0xFBFF, 0x3C00, 0xBC00]
        return (0..<count).map { i in
            i % 5 == 0 ? special[Int.random(in: 0..<special.count, using: &rng)]
                : UInt16.random(in: 0...UInt16.max, using: &rng) & 0xFBFF  // exponent below 31: finite
        }
    }

    static func pack(_ halves: [UInt16], rows: Int, dim: Int) -> [UInt8] {
        var planes = [UInt8](repeating: 0xAA, count: colpali_planes_bytes(Int64(rows), Int32(dim)))
        colpali_planes_pack(halves, Int32(rows), Int32(dim), &planes)
        return planes
    }

    /// What unpacking must give: the same halves, a -0 turned +0.
    static func canonical(_ halves: [UInt16]) -> [UInt16] { halves.map { $0 == 0x8000 ? 0 : $0 } }

    @Test func aPageInSignPlanesIsTheSizeOfItsHalvesWhereTheDimensionIsAMultipleOf16() {
        #expect(colpali_planes_bytes(1030, 128) == 1030 * 128 * 2)
        #expect(colpali_planes_bytes(3, 16) == 3 * 16 * 2)
        #expect(colpali_planes_bytes(1, 18) == 3 + 30 + 4)
        #expect(colpali_planes_bytes(1, 1) == 1 + 2)
    }

    @Test func valuesComeBackExactlyAndTheCodesComeFirst() {
        for dim in Self.dims {
            let rows = 37
            let halves = Self.halves(rows * dim)
            let planes = Self.pack(halves, rows: rows, dim: dim)
            var unpacked = [UInt16](repeating: 0xFFFF, count: halves.count)
            colpali_planes_unpack(planes, Int32(rows), Int32(dim), &unpacked)
            #expect(unpacked == Self.canonical(halves), "dim \(dim)")
            var codes = [UInt8](repeating: 0, count: rows * colpali_code_bytes(Int32(dim)))
            colpali_binary_quantize_half(halves, Int32(rows), Int32(dim), &codes)
            #expect(Array(planes.prefix(codes.count)) == codes, "dim \(dim)")
        }
    }

    /// The widening the stream uses, on every kernel (the AVX2 path reads a
    /// group of 16 at a time, the tail and the scalar path one at a time).
    @Test func rowsWidenAsTheirHalvesDoOnEveryKernel() {
        for dim in Self.dims {
            let rows = 23
            let halves = Self.halves(rows * dim)
            let planes = Self.pack(halves, rows: rows, dim: dim)
            let expected = HalfPrecisionTests.widened(Self.canonical(halves))
            let magnitudes = Array(planes[(rows * colpali_code_bytes(Int32(dim)))...])
            MaxSimKernelTests.withEveryISA { isa in
                var out = [Float](repeating: .nan, count: halves.count)
                colpali_planes_rows_to_float(planes, magnitudes, Int32(rows), Int32(dim), &out)
                #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) dim \(dim)")
            }
        }
    }

    static func stream(query: [Float], nq: Int, dim: Int, rows: Int, payload: [UInt8], pieceSize: Int,
                       expectedRows: Int) -> (status: Int32, score: Float) {
        // The stream keeps these pointers between calls: buffers that stay put.
        let stagingRows = Int(colpali_stream_staging_rows(Int32(dim)))
        let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        let staging = UnsafeMutablePointer<Float>.allocate(capacity: stagingRows * dim)
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * colpali_code_bytes(Int32(dim)))
        let magnitudes = UnsafeMutablePointer<UInt8>.allocate(capacity: colpali_planes_magnitude_bytes(Int32(dim)))
        defer {
            rowMax.deallocate()
            staging.deallocate()
            codes.deallocate()
            magnitudes.deallocate()
        }
        return query.withUnsafeBufferPointer { q in
            var stream = colpali_stream()
            var score: Float = 0
            colpali_stream_begin_planes(&stream, q.baseAddress, Int32(nq), Int32(dim), Int64(rows), rowMax, staging,
                                        Int32(stagingRows), codes, magnitudes)
            var offset = 0
            while offset < payload.count {
                let take = min(pieceSize, payload.count - offset)
                payload[offset..<(offset + take)].withUnsafeBytes { _ = colpali_stream_feed(&stream, $0.baseAddress, take) }
                offset += take
            }
            return (colpali_stream_finish(&stream, Int64(expectedRows), &score), score)
        }
    }

    /// A page in pieces of every awkward size (a TOAST chunk is 1,996 bytes)
    /// scores exactly as colpali_maxsim over its widened halves.
    @Test func aPageInSignPlanesInPiecesScoresLikeItsHalves() {
        for (nq, nd, dim) in HalfPrecisionTests.streamShapes {
            let (query, halves) = HalfPrecisionTests.randomDocument(nq: nq, nd: nd, dim: dim)
            let payload = Self.pack(halves, rows: nd, dim: dim)
            MaxSimKernelTests.withEveryISA { isa in
                var expected: Float = 0
                #expect(colpali_maxsim(query, Int32(nq), HalfPrecisionTests.widened(halves), Int32(nd), Int32(dim), &expected) == 0)
                for pieceSize in [1, 3, 1996, 4096, payload.count] {
                    let (status, score) = Self.stream(query: query, nq: nq, dim: dim, rows: nd, payload: payload,
                                                      pieceSize: pieceSize, expectedRows: nd)
                    #expect(status == 0 && score == expected, "\(isa) \(nq)x\(nd)x\(dim) pieces of \(pieceSize): \(score) vs \(expected)")
                }
            }
        }
    }

    /// A payload a byte short, a byte long, or with more rows of magnitudes
    /// than codes is not a page: refused, never read past its codes.
    @Test func aMalformedPageInSignPlanesIsRefused() {
        let dim = 16, rows = 100
        let query = [Float](repeating: 0.25, count: dim)
        let payload = Self.pack(Self.halves(rows * dim), rows: rows, dim: dim)
        #expect(Self.stream(query: query, nq: 1, dim: dim, rows: rows, payload: Array(payload.dropLast()),
                            pieceSize: 997, expectedRows: rows).status == -1)
        #expect(Self.stream(query: query, nq: 1, dim: dim, rows: rows, payload: payload + [0],
                            pieceSize: 997, expectedRows: rows).status == -1)
        // Codes for 10 rows, magnitudes for 100.
        #expect(Self.stream(query: query, nq: 1, dim: dim, rows: 10, payload: payload,
                            pieceSize: 997, expectedRows: 10).status == -1)
        #expect(Self.stream(query: query, nq: 1, dim: dim, rows: rows, payload: payload,
                            pieceSize: 997, expectedRows: rows).status == 0)
    }
}
