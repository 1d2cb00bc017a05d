import ColPaliMath

/// Numeric precision of the matrix multiplies.
public enum Precision: String, Sendable, CaseIterable {
    /// float32 weights and OpenBLAS sgemm: matches the reference to ~1e-6.
    case fp32
    /// bf16 weights (as checkpoints store them), products in AVX-512 BF16
    /// with float32 accumulation; everything else float32.
    case bf16

    /// bf16 where the CPU has AVX-512 BF16, else fp32 (the portable bf16
    /// path is exact but slow).
    public static var fastest: Precision { colpali_bf16_native() != 0 ? .bf16 : .fp32 }
}
