import ColPaliMath

/// Numeric precision of the matrix multiplies.
public enum Precision: String, Sendable, CaseIterable {
    /// float32 weights and OpenBLAS sgemm: matches the reference to ~1e-6.
    case fp32
    /// bf16 weights (as checkpoints store them, half fp32's memory),
    /// products with float32 accumulation on AMX tiles, AVX-512 BF16 or
    /// AVX2 (chosen at run time); everything else float32.
    case bf16

    /// bf16 wherever a vector kernel runs it, else fp32 (the portable bf16
    /// path is exact but slow).
    public static var fastest: Precision { colpali_bf16_kernel() != COLPALI_GEMM_PORTABLE ? .bf16 : .fp32 }

    /// The matrix kernel bf16 runs on here ("amx", "avx512bf16", "avx2" or
    /// "portable"; COLPALI_GEMM chooses another), for logs and benchmarks.
    package static var bf16Kernel: String { String(cString: colpali_bf16_kernel_name(colpali_bf16_kernel())) }

    /// The kernels COLPALI_GEMM may name.
    package static let bf16KernelNames = ["amx", "avx512bf16", "avx2", "portable"]

    /// Why COLPALI_GEMM's value cannot be used here, or nil when it can
    /// ("auto" and empty included). The kernel choice itself falls back to
    /// the automatic order silently; commands check first and say so.
    package static func bf16KernelProblem(_ name: String) -> String? {
        if name.isEmpty || name == "auto" { return nil }
        guard bf16KernelNames.contains(name) else {
            return "'\(name)' is not a matrix kernel (\(bf16KernelNames.joined(separator: ", ")) or auto)"
        }
        return colpali_bf16_kernel_available(name) == 1 ? nil : "this CPU (or its kernel) cannot run the '\(name)' matrix kernel"
    }
}
