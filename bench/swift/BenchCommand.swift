import ArgumentParser

/// `colpali-bench`: the measuring side of the scripts in bench/. Each
/// subcommand prints one JSON line per result for the scripts to tabulate.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colpali-bench",
        abstract: "Measurements for the scripts in bench/ (which run the baselines beside them).",
        subcommands: [ModelBench.self, ExtensionBench.self, KernelBench.self, IngestBench.self, SearchBench.self, PoolingBench.self, IndexBench.self, FirstStageBench.self, ServeBench.self]
    )
}
