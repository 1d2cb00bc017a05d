import ArgumentParser
import ColPaliModel
import Foundation

/// Options of commands that run the model.
public struct ModelOptions: ParsableArguments {
    public init() {}

    public static let defaultModel = "vidore/colpali-v1.2-hf"

    @Option(name: .long, help: ArgumentHelp(
        "Model directory or Hugging Face id (org/name[@revision]). Default: $COLPALI_MODEL, else \(defaultModel).",
        valueName: "model"))
    public var model: String?

    @Option(name: .long, help: ArgumentHelp(
        "Prompt format: \(PromptFormat.allCases.map(\.rawValue).joined(separator: ", ")). Default: $COLPALI_PROMPT_FORMAT, else transformers.",
        valueName: "name"))
    public var promptFormat: String?

    @Option(name: .long, help: ArgumentHelp(
        "Matrix precision: fp32 (exact), bf16 (fast, half the memory; AMX, AVX-512 BF16 or AVX2) or auto. Default: $COLPALI_PRECISION, else auto.",
        valueName: "precision"))
    public var precision: String?

    @Option(name: .long, help: ArgumentHelp("Threads for the model. Default: $COLPALI_THREADS, else every core.", valueName: "n"))
    public var threads: Int?

    public var modelReference: String {
        model ?? ProcessInfo.processInfo.environment["COLPALI_MODEL"] ?? Self.defaultModel
    }

    public func resolvedPromptFormat() throws -> PromptFormat {
        let name = promptFormat ?? ProcessInfo.processInfo.environment["COLPALI_PROMPT_FORMAT"] ?? PromptFormat.transformers.rawValue
        guard let format = PromptFormat(rawValue: name) else {
            throw ValidationError("unknown prompt format '\(name)' (known: \(PromptFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return format
    }

    public func resolvedPrecision() throws -> Precision {
        if let problem = Precision.bf16KernelProblem(ProcessInfo.processInfo.environment["COLPALI_GEMM"] ?? "") {
            throw ValidationError("COLPALI_GEMM: \(problem)")
        }
        let name = precision ?? ProcessInfo.processInfo.environment["COLPALI_PRECISION"] ?? "auto"
        if name == "auto" { return .fastest }
        guard let value = Precision(rawValue: name) else { throw ValidationError("unknown precision '\(name)' (fp32, bf16 or auto)") }
        return value
    }

    public func validate() throws {
        _ = try resolvedPromptFormat()
        _ = try resolvedPrecision()
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    public func loadModel() async throws -> ColPali {
        let precision = try resolvedPrecision()
        if precision == .fp32, let line = Self.fp32Warning(OpenBLASCore.current) { GlobalOptions.note(line) }
        return try await ColPali.load(modelReference, precision: precision,
                               locator: ModelLocator(progress: TerminalDownloadBar.callbackIfTerminal()),
                               context: ComputeContext(threads: threads))
    }

    /// What to tell a user whose fp32 products would run on OpenBLAS kernels
    /// older than the CPU, or nil.
    static func fp32Warning(_ core: OpenBLASCore) -> String? {
        guard let better = core.betterCoreType else { return nil }
        return "warning: OpenBLAS runs its \(core.name) kernels on this \(core.cpu) CPU, so fp32 runs at a fraction "
            + "of its speed; set OPENBLAS_CORETYPE=\(better) in the environment, or use --precision bf16 or auto"
    }
}
