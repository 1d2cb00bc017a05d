import ArgumentParser
import ColPaliKernels
import Foundation

/// The bare kernels on random pages in memory, by thread count.
struct KernelBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernel", abstract: "Bare MaxSim kernel throughput in memory.")

    enum Layout: String, ExpressibleByArgument, CaseIterable {
        case fp32, half, planes
    }

    @Option var pages = 2000
    @Option var threads = 2
    @Option(help: "How pages are held: fp32 (real[][]), half (16-bit rows) or planes (sign planes, as stored).")
    var layout: Layout = .fp32
    @Option(help: "Feed each page in pieces of this many bytes (planes only), as TOAST chunks arrive.")
    var pieceBytes: Int?

    func validate() throws {
        guard pages >= 1, threads >= 1 else { throw ValidationError("--pages and --threads must be at least 1") }
        if let pieceBytes {
            guard layout == .planes else { throw ValidationError("--piece-bytes applies to --layout planes only") }
            guard pieceBytes >= 1 else { throw ValidationError("--piece-bytes must be at least 1") }
        }
    }

    func run() async throws {
        let corpus = SyntheticCorpus(seed: 1)
        var data = [Float]()
        data.reserveCapacity(pages * 1030 * 128)
        let distinct = min(pages, 64)
        let samples = (0..<distinct).map { corpus.page($0) }
        for page in 0..<pages { data += samples[page % distinct] }
        let query = corpus.query(0, target: 0)
        let rate: Double
        switch layout {
        case .fp32:
            rate = Self.rate(data: data, pages: pages, query: query, threads: threads)
        case .half, .planes:
            var halves = [UInt16](repeating: 0, count: data.count)
            precondition(colpali_float_to_half(data, data.count, &halves) < 0, "synthetic pages are within the half range")
            data = []
            if layout == .half {
                rate = Self.halfRate(data: halves, pages: pages, query: query, threads: threads)
            } else {
                rate = Self.planesRate(data: Self.planes(halves: halves, pages: pages), pages: pages, query: query, threads: threads,
                                       pieceBytes: pieceBytes)
            }
        }
        print(String(format: "{\"pages\": %d, \"threads\": %d, \"layout\": \"%@\", \"kernel\": \"%@\", \"pages_per_s\": %.0f}",
                     pages, threads, layout.rawValue, String(cString: colpali_kernel_isa()), rate))
    }

    /// 1,030 x 128 pages of halves packed in sign planes, one after another.
    static func planes(halves: [UInt16], pages: Int) -> [UInt8] {
        let pageBytes = colpali_planes_bytes(1030, 128)
        var planes = [UInt8](repeating: 0, count: pages * pageBytes)
        halves.withUnsafeBufferPointer { h in
            planes.withUnsafeMutableBufferPointer { p in
                for page in 0..<pages {
                    colpali_planes_pack(h.baseAddress! + page * 1030 * 128, 1030, 128, p.baseAddress! + page * pageBytes)
                }
            }
        }
        return planes
    }

    static func rate(data: [Float], pages: Int, query: [Float], threads: Int, repeats: Int = 3) -> Double {
        let box = Shared(data: data, query: query)
        let started = Date()
        for _ in 0..<repeats {
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                box.data.withUnsafeBufferPointer { pages_ in
                    box.query.withUnsafeBufferPointer { q in
                        var score: Float = 0
                        for page in (pages * part / threads)..<(pages * (part + 1) / threads) {
                            _ = colpali_maxsim(q.baseAddress, 20, pages_.baseAddress! + page * 1030 * 128, 1030, 128, &score)
                        }
                    }
                }
            }
        }
        return Double(pages * repeats) / Date().timeIntervalSince(started)
    }

    /// The same over pages of IEEE half values, 1,030 x 128 each, through the
    /// streaming kernel the extension scores stored pages with (each page fed
    /// whole, as a detoasted value is).
    static func halfRate(data: [UInt16], pages: Int, query: [Float], threads: Int, repeats: Int = 3) -> Double {
        streamRate(data: data, pages: pages, query: query, threads: threads, repeats: repeats) { stream, page, q, buffers in
            colpali_stream_begin_half(&stream, q, 20, 128, buffers.rowMax, buffers.staging, buffers.stagingRows)
            _ = colpali_stream_feed(&stream, page, 1030 * 128 * 2)
        } pageOffset: { $0 * 1030 * 128 }
    }

    /// The same over pages in sign planes (the layout stored since extension
    /// 1.4: the codes, then 15-bit magnitudes), 263,680 bytes each.
    /// `pieceBytes` feeds each page in pieces of that many bytes, as the
    /// extension feeds a stored page's TOAST chunks (1,996 bytes each).
    static func planesRate(data: [UInt8], pages: Int, query: [Float], threads: Int, repeats: Int = 3,
                           pieceBytes: Int? = nil) -> Double {
        let pageBytes = colpali_planes_bytes(1030, 128)
        let piece = pieceBytes ?? pageBytes
        return streamRate(data: data, pages: pages, query: query, threads: threads, repeats: repeats) { stream, page, q, buffers in
            colpali_stream_begin_planes(&stream, q, 20, 128, 1030, buffers.rowMax, buffers.staging, buffers.stagingRows,
                                        buffers.codes, buffers.magnitudes)
            for start in stride(from: 0, to: pageBytes, by: piece) {
                _ = colpali_stream_feed(&stream, page + start, min(piece, pageBytes - start))
            }
        } pageOffset: { $0 * pageBytes }
    }

    /// A thread's buffers for the kernel stream, for a 1,030 x 128 page and
    /// a query of 20 rows; they outlive every stream begun on them.
    final class StreamBuffers {
        let stagingRows = colpali_stream_staging_rows(128)
        let staging: UnsafeMutablePointer<Float>
        let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: 20)
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: 1030 * colpali_code_bytes(128))
        let magnitudes = UnsafeMutablePointer<UInt8>.allocate(capacity: colpali_planes_magnitude_bytes(128))
        init() { staging = .allocate(capacity: Int(stagingRows) * 128) }
        deinit {
            staging.deallocate()
            rowMax.deallocate()
            codes.deallocate()
            magnitudes.deallocate()
        }
    }

    /// Pages per second of the stream over every page, split across threads:
    /// `begin` starts it on the page at its pointer and feeds it; finishing is
    /// here.
    static func streamRate<Element: Sendable>(
        data: [Element], pages: Int, query: [Float], threads: Int, repeats: Int,
        begin: @Sendable (inout colpali_stream, UnsafePointer<Element>, UnsafePointer<Float>, StreamBuffers) -> Void,
        pageOffset: @Sendable (Int) -> Int
    ) -> Double {
        let box = Shared(data: data, query: query)
        let started = Date()
        for _ in 0..<repeats {
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                let buffers = StreamBuffers()
                var stream = colpali_stream()
                var score: Float = 0
                box.data.withUnsafeBufferPointer { pages_ in
                    box.query.withUnsafeBufferPointer { q in
                        for page in (pages * part / threads)..<(pages * (part + 1) / threads) {
                            begin(&stream, pages_.baseAddress! + pageOffset(page), q.baseAddress!, buffers)
                            _ = colpali_stream_finish(&stream, 1030, &score)
                        }
                    }
                }
            }
        }
        return Double(pages * repeats) / Date().timeIntervalSince(started)
    }

    final class Shared<Element: Sendable>: @unchecked Sendable {
        let data: [Element]
        let query: [Float]
        init(data: [Element], query: [Float]) {
            self.data = data
            self.query = query
        }
    }
}
