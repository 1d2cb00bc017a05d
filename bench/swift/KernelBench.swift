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

    final class Shared: @unchecked Sendable {
        let data: [Float]
        let query: [Float]
        init(data: [Float], query: [Float]) {
            self.data = data
            self.query = query
        }
    }
}
