import ArgumentParser
import ColPaliKernels
import Foundation

/// The bare kernels on random pages in memory, by thread count.
struct KernelBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernel", abstract: "Bare MaxSim kernel throughput in memory.")

    @Option var pages = 2000
    @Option var threads = 2

    func run() async throws {
        let corpus = SyntheticCorpus(seed: 1)
        var data = [Float]()
        data.reserveCapacity(pages * 1030 * 128)
        let distinct = min(pages, 64)
        let samples = (0..<distinct).map { corpus.page($0) }
        for page in 0..<pages { data += samples[page % distinct] }
        let query = corpus.query(0, target: 0)
        let rate = Self.rate(data: data, pages: pages, query: query, threads: threads)
        print(String(format: "{\"pages\": %d, \"threads\": %d, \"kernel\": \"%@\", \"pages_per_s\": %.0f}",
                     pages, threads, String(cString: colpali_kernel_isa()), rate))
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
        let box = Shared(data: data, query: query)
        let started = Date()
        for _ in 0..<repeats {
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                let stagingRows = colpali_stream_staging_rows(128)
                var staging = [Float](repeating: 0, count: Int(stagingRows) * 128)
                var rowMax = [Float](repeating: 0, count: 20)
                var stream = colpali_stream()
                var score: Float = 0
                box.data.withUnsafeBufferPointer { pages_ in
                    box.query.withUnsafeBufferPointer { q in
                        staging.withUnsafeMutableBufferPointer { st in
                            rowMax.withUnsafeMutableBufferPointer { rm in
                                for page in (pages * part / threads)..<(pages * (part + 1) / threads) {
                                    colpali_stream_begin_half(&stream, q.baseAddress, 20, 128, rm.baseAddress, st.baseAddress, stagingRows)
                                    _ = colpali_stream_feed(&stream, pages_.baseAddress! + page * 1030 * 128, 1030 * 128 * 2)
                                    _ = colpali_stream_finish(&stream, 1030, &score)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Double(pages * repeats) / Date().timeIntervalSince(started)
    }

    /// The same over pages in sign planes (the layout stored since extension
    /// 1.4: the codes, then 15-bit magnitudes), 263,680 bytes each.
    static func planesRate(data: [UInt8], pages: Int, query: [Float], threads: Int, repeats: Int = 3) -> Double {
        let box = Shared(data: data, query: query)
        let pageBytes = colpali_planes_bytes(1030, 128)
        let started = Date()
        for _ in 0..<repeats {
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                let stagingRows = colpali_stream_staging_rows(128)
                var staging = [Float](repeating: 0, count: Int(stagingRows) * 128)
                var rowMax = [Float](repeating: 0, count: 20)
                var codes = [UInt8](repeating: 0, count: 1030 * colpali_code_bytes(128))
                var magnitudes = [UInt8](repeating: 0, count: colpali_planes_magnitude_bytes(128))
                var stream = colpali_stream()
                var score: Float = 0
                box.data.withUnsafeBufferPointer { pages_ in
                    box.query.withUnsafeBufferPointer { q in
                        for page in (pages * part / threads)..<(pages * (part + 1) / threads) {
                            colpali_stream_begin_planes(&stream, q.baseAddress, 20, 128, 1030, &rowMax, &staging, stagingRows,
                                                        &codes, &magnitudes)
                            _ = colpali_stream_feed(&stream, pages_.baseAddress! + page * pageBytes, pageBytes)
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
