@testable import ColPaliStorage
import Testing

/// The local cluster's parallel scans use every CPU without putting more
/// processes on them than there are CPUs: the leading backend scans too.
struct ParallelScanSettingTests {
    @Test(arguments: [(1, 1), (2, 1), (3, 2), (4, 3), (9, 8), (64, 8)])
    func aScanAsksForOneWorkerFewerThanTheCPUs(cpus: Int, workers: Int) {
        #expect(LocalCluster.parallelWorkersPerScan(cpus: cpus) == workers)
    }
}
