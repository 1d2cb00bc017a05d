import COpenBLAS
import ColPaliKernels

/// Which kernels OpenBLAS runs fp32 products on, and whether they fit the
/// CPU. OpenBLAS picks them once, when it loads, from a table of the CPUs it
/// knows; one it does not know gets its oldest x86-64 kernels. Debian's
/// 0.3.21 runs its SSE3 "Prescott" kernels on an Intel Xeon of cpu family 6
/// model 207 (AVX-512 and AMX): sgemm at 25-49 GFLOP/s on 2 threads there,
/// against 153-246 with `OPENBLAS_CORETYPE=SkylakeX`.
package struct OpenBLASCore: Sendable, Equatable {
    /// OpenBLAS's name for the kernels in use ("Haswell", "SkylakeX", "Prescott", ...).
    package let name: String
    /// The widest vector instructions this CPU runs ("avx512", "avx2" or "scalar").
    package let cpu: String

    package init(name: String, cpu: String) {
        self.name = name
        self.cpu = cpu
    }

    /// The kernels loaded in this process, on this CPU.
    package static var current: OpenBLASCore {
        OpenBLASCore(name: openblas_get_corename().map { String(cString: $0) } ?? "unknown",
                     cpu: String(cString: colpali_kernel_isa()))
    }

    /// OpenBLAS's cores whose kernels use AVX2 and FMA, or more.
    private static let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]

    /// The `OPENBLAS_CORETYPE` whose kernels suit this CPU, when the kernels
    /// in use are older than it: nil where they already fit (or where the
    /// CPU has no AVX2, so nothing better exists).
    package var betterCoreType: String? {
        guard cpu == "avx512" || cpu == "avx2", !Self.vectorCores.contains(name.lowercased()) else { return nil }
        return cpu == "avx512" ? "SkylakeX" : "Haswell"
    }
}
