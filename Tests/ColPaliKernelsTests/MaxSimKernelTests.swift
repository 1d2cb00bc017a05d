import Foundation
import ColPaliKernels
import Testing
import TestSupport

/// The C kernels against a straightforward double-precision reference, on
/// every instruction set this CPU has, over randomised shapes. A forced
/// instruction set holds for the forcing thread only, so a check labelled
/// "scalar" runs the scalar kernel whatever else runs in parallel.
@Suite(.serialized)
struct MaxSimKernelTests {
    static let allISAs = ["scalar", "avx2", "avx512"]
    static let isas: [String] = {
        defer { _ = colpali_kernel_force_isa("auto") }
        return allISAs.filter { colpali_kernel_force_isa($0) == 0 }
    }()

    static func referenceMaxSim(_ q: [Float], _ nq: Int, _ d: [Float], _ nd: Int, _ dim: Int) -> Double {
        ReferenceScores.maxSim(q, rows: nq, d, rows: nd, dim: dim)
    }

    static func withEveryISA(_ body: (String) throws -> Void) rethrows {
        defer { _ = colpali_kernel_force_isa("auto") }
        for isa in isas {
            #expect(colpali_kernel_force_isa(isa) == 0)
            #expect(String(cString: colpali_kernel_isa()) == isa)
            try body(isa)
        }
    }

    /// Says which kernels this run checked. A CI machine that must cover an
    /// instruction set names it in COLPALI_REQUIRE_ISAS (e.g. "avx2,avx512"):
    /// the run then fails where the CPU lacks it instead of silently skipping.
    @Test func reportsTheInstructionSetsCovered() {
        let missing = Self.allISAs.filter { !Self.isas.contains($0) }
        print("ColPaliKernels: tested \(Self.isas.joined(separator: ", "))"
              + (missing.isEmpty ? "" : "; not on this CPU: \(missing.joined(separator: ", "))"))
        let required = (ProcessInfo.processInfo.environment["COLPALI_REQUIRE_ISAS"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for isa in required {
            #expect(Self.isas.contains(isa), "COLPALI_REQUIRE_ISAS names \(isa), which this CPU cannot run")
        }
    }

    @Test func picksTheBestAvailableKernel() {
        #expect(Self.isas.contains(String(cString: colpali_kernel_isa())))
        #expect(String(cString: colpali_kernel_isa()) == Self.isas.last)
        #expect(colpali_kernel_force_isa("no-such-isa") == -1)
    }

    /// Forcing is per thread: another thread keeps the machine's best.
    @Test func aForcedKernelHoldsForItsThreadOnly() {
        guard Self.isas.count > 1 else { return }
        #expect(colpali_kernel_force_isa("scalar") == 0)
        defer { _ = colpali_kernel_force_isa("auto") }
        let other = Thread.detachNewThreadAndWait { String(cString: colpali_kernel_isa()) }
        #expect(other == Self.isas.last)
        #expect(String(cString: colpali_kernel_isa()) == "scalar")
    }

    @Test func matchesDoublePrecisionReferenceOnRandomShapes() {
        var rng = SeededRandom(42)
        var shapes: [(Int, Int, Int)] = [(20, 1030, 128), (1, 1, 1), (64, 2048, 320), (3, 5, 17), (4, 4, 16)]
        for _ in 0..<40 { shapes.append((rng.int(1...64), rng.int(1...2048), rng.int(1...1024))) }
        for (nq, nd, dim) in shapes {
            let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
            let expected = Self.referenceMaxSim(q, nq, d, nd, dim)
            Self.withEveryISA { isa in
                var score: Float = 0
                #expect(colpali_maxsim(q, Int32(nq), d, Int32(nd), Int32(dim), &score) == Int32(COLPALI_OK))
                let relative = abs(Double(score) - expected) / max(1e-6, abs(expected))
                #expect(relative <= 1e-4, "\(isa) nq=\(nq) nd=\(nd) dim=\(dim): \(score) vs \(expected)")
            }
        }
    }

    @Test func rowMaximaSumToTheScore() {
        var rng = SeededRandom(7)
        let (nq, nd, dim) = (9, 77, 130)
        let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
        Self.withEveryISA { _ in
            var rows = [Float](repeating: 0, count: nq)
            #expect(colpali_maxsim_rowmax(q, Int32(nq), d, Int32(nd), Int32(dim), &rows) == Int32(COLPALI_OK))
            var score: Float = 0
            _ = colpali_maxsim(q, Int32(nq), d, Int32(nd), Int32(dim), &score)
            #expect(abs(rows.reduce(0, +) - score) <= 1e-4 * abs(score))
            for i in 0..<nq {
                let best = (0..<nd).map { j in (0..<dim).reduce(0.0) { $0 + Double(q[i * dim + $1]) * Double(d[j * dim + $1]) } }.max()!
                #expect(abs(Double(rows[i]) - best) <= 1e-4 * max(1, abs(best)))
            }
        }
    }

    /// A document scored in uneven pieces (as the extension streams TOAST
    /// chunks) gives the same row maxima and total as scored whole.
    @Test func documentInPiecesScoresLikeTheWhole() {
        var rng = SeededRandom(11)
        let (nq, nd, dim) = (20, 1030, 128)
        let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
        Self.withEveryISA { isa in
            var whole = [Float](repeating: 0, count: nq)
            _ = colpali_maxsim_rowmax(q, Int32(nq), d, Int32(nd), Int32(dim), &whole)
            var pieces = [Float](repeating: -.infinity, count: nq)
            var start = 0
            for size in [1, 63, 64, 500, 402] {
                d.withUnsafeBufferPointer { all in
                    #expect(colpali_maxsim_rowmax_update(q, Int32(nq), all.baseAddress! + start * dim, Int32(size), Int32(dim),
                                                         &pieces) == Int32(COLPALI_OK))
                }
                start += size
            }
            #expect(start == nd)
            #expect(pieces == whole, "\(isa)")
            var total: Float = 0, score: Float = 0
            #expect(colpali_maxsim_total(pieces, Int32(nq), &total) == Int32(COLPALI_OK))
            _ = colpali_maxsim(q, Int32(nq), d, Int32(nd), Int32(dim), &score)
            #expect(total == score, "\(isa)")
        }
    }

    /// The extension's TOAST stream: a page's bytes in pieces of any size
    /// (floats split across pieces) score exactly like the whole page; a
    /// payload a byte short or long is reported, never scored.
    @Test func byteStreamInPiecesScoresLikeTheWholeDocument() {
        var rng = SeededRandom(21)
        let (nq, nd, dim) = (20, 1030, 128)
        let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
        var whole: Float = 0
        #expect(colpali_maxsim(q, Int32(nq), d, Int32(nd), Int32(dim), &whole) == Int32(COLPALI_OK))
        let bytes = d.withUnsafeBytes { [UInt8]($0) }
        let stagingRows = Int(colpali_stream_staging_rows(Int32(dim)))
        var staging = [Float](repeating: 0, count: stagingRows * dim)
        var rowMax = [Float](repeating: 0, count: nq)
        func stream(_ payload: [UInt8], pieces: [Int]) -> (Int32, Float) {
            var s = colpali_stream()
            var score: Float = 0
            return q.withUnsafeBufferPointer { qp in
                staging.withUnsafeMutableBufferPointer { sp in
                    rowMax.withUnsafeMutableBufferPointer { rp in
                        colpali_stream_begin(&s, qp.baseAddress, Int32(nq), Int32(dim), rp.baseAddress, sp.baseAddress, Int32(stagingRows))
                        var at = 0, k = 0
                        while at < payload.count {
                            let n = min(pieces[k % pieces.count], payload.count - at)
                            payload[at..<(at + n)].withUnsafeBytes { _ = colpali_stream_feed(&s, $0.baseAddress, n) }
                            at += n
                            k += 1
                        }
                        return (colpali_stream_finish(&s, Int64(nd), &score), score)
                    }
                }
            }
        }
        // TOAST-like 1,996-byte chunks, odd sizes, and single bytes.
        for pieces in [[1996], [7, 1, 4093, 2], [1], [bytes.count]] {
            let (status, score) = stream(bytes, pieces: pieces)
            #expect(status == Int32(COLPALI_OK) && score == whole, "\(pieces)")
        }
        #expect(stream(Array(bytes.dropLast()), pieces: [1996]).0 == -1)
        #expect(stream(bytes + [0, 0, 0, 0], pieces: [1996]).0 == -1)
    }

    /// Ragged edges of every tile (query rows not a multiple of 2, document
    /// rows not of 4, a dimension tail) and the index's shape (20 x 1,024 x 128).
    @Test(arguments: [(3, 11, 19), (1, 1, 1), (2, 4, 8), (5, 7, 130), (20, 1024, 128)])
    func similarityMatrixHoldsEveryDotProduct(nq: Int, nd: Int, dim: Int) {
        var rng = SeededRandom(9)
        let q = rng.floats(nq * dim), d = rng.floats(nd * dim)
        Self.withEveryISA { isa in
            var out = [Float](repeating: .nan, count: nq * nd)
            colpali_similarity(q, Int32(nq), d, Int32(nd), Int32(dim), &out)
            for i in 0..<nq {
                for j in 0..<nd {
                    let dot = (0..<dim).reduce(Double(0)) { $0 + Double(q[i * dim + $1]) * Double(d[j * dim + $1]) }
                    #expect(abs(Double(out[i * nd + j]) - dot) <= 1e-4, "\(isa) [\(i), \(j)] of \(nq) x \(nd) x \(dim)")
                }
            }
        }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func reportsNonFiniteDocuments(bad: Float) {
        var rng = SeededRandom(3)
        let (nq, nd, dim) = (5, 37, 128)
        let q = rng.floats(nq * dim)
        for position in [0, 36 * dim + 127, 17 * dim + 64] {
            var d = rng.floats(nd * dim)
            d[position] = bad
            Self.withEveryISA { isa in
                var score: Float = 0
                #expect(colpali_maxsim(q, Int32(nq), d, Int32(nd), Int32(dim), &score) == Int32(COLPALI_NONFINITE), "\(isa)")
            }
            #expect(colpali_find_nonfinite(d, d.count) == position)
        }
    }
}

/// A value handed back from another thread.
final class ThreadResult<T>: @unchecked Sendable {
    var value: T?
}

extension Thread {
    /// Runs `body` on a new thread and returns its result.
    static func detachNewThreadAndWait<T>(_ body: @escaping @Sendable () -> T) -> T {
        let box = ThreadResult<T>()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            box.value = body()
            done.signal()
        }
        done.wait()
        return box.value!
    }
}
