import ColPaliMath

/// C = A W^T on the bf16 kernel this machine runs (AMX, AVX-512 BF16, AVX2
/// or portable; see colpali_math.h), with W packed once. A is float32: it is
/// rounded to bf16 first only for the kernels that read bf16.
struct BF16Product {
    /// W in the kernel's panel layout: n outputs of k inputs.
    let packed: UnsafePointer<UInt16>
    let n: Int
    let k: Int

    /// Whether the kernel in use reads A as float32 (no conversion pass).
    static var readsFloat: Bool { colpali_bf16_reads_float() != 0 }

    /// Panels per thread: several, so a thread that shares its core with
    /// another process takes fewer of them (libdispatch hands chunks out as
    /// threads become free) instead of holding up the pass.
    private static let chunksPerThread = 4

    /// c[rows, n] (row stride ldc) = a[rows, k] (row stride lda) W^T + bias.
    /// `converted`, when the kernel reads bf16, is where A's bf16 copy goes.
    func apply(_ a: UnsafePointer<Float>, lda: Int, rows: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
               bias: UnsafePointer<Float>?, converted slot: Workspace.Slot, workspace: Workspace,
               context: ComputeContext) {
        let panels = Int(colpali_bf16_panel_count(Int32(n)))
        let (packed, c, bias) = (UnsafeSendable(packed), UnsafeSendable(c), UnsafeSendable(bias))
        let (n, k) = (Int32(n), Int32(k))
        if Self.readsFloat {
            let a = UnsafeSendable(a)
            split(rows: rows, panels: panels, context: context) { rows, panels in
                colpali_bf16_gemm_float(a.value + rows.lowerBound * lda, Int32(lda), Int32(rows.count), k, packed.value, n,
                                        c.value + rows.lowerBound * ldc, Int32(ldc), bias.value,
                                        Int32(panels.lowerBound), Int32(panels.upperBound))
            }
            return
        }
        let input = convert(a, lda: lda, rows: rows, into: slot, workspace: workspace, context: context)
        apply(converted: input, rows: rows, into: c.value, ldc: ldc, bias: bias.value, context: context)
    }

    /// A (rows x k, row stride lda) in bf16 in the kernel's A layout, in
    /// the workspace's `slot`.
    private func convert(_ a: UnsafePointer<Float>, lda: Int, rows: Int, into slot: Workspace.Slot,
                         workspace: Workspace, context: ComputeContext) -> UnsafeMutablePointer<UInt16> {
        let input = workspace.bf16(slot, count: colpali_bf16_a_elements(Int32(rows), Int32(k)))
        let (source, converted, k) = (UnsafeSendable(a), UnsafeSendable(input), Int32(k))
        context.parallel(rows, minimumChunk: 16) { begin, end in
            colpali_bf16_from_float(source.value, Int32(lda), k, Int32(begin), Int32(end), converted.value)
        }
        return input
    }

    /// The same with A already bf16 in the kernel's layout.
    func apply(converted a: UnsafePointer<UInt16>, rows: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
               bias: UnsafePointer<Float>?, context: ComputeContext) {
        let panels = Int(colpali_bf16_panel_count(Int32(n)))
        let stride = Int(colpali_bf16_stride(Int32(k)))
        let (packed, a, c, bias) = (UnsafeSendable(packed), UnsafeSendable(a), UnsafeSendable(c), UnsafeSendable(bias))
        let (n, k) = (Int32(n), Int32(k))
        split(rows: rows, panels: panels, context: context) { rows, panels in
            colpali_bf16_gemm(a.value + rows.lowerBound * stride, Int32(rows.count), k, packed.value, n,
                              c.value + rows.lowerBound * ldc, Int32(ldc), bias.value,
                              Int32(panels.lowerBound), Int32(panels.upperBound))
        }
    }

    /// GeGLU of the product, in bf16 in the kernel's A layout (row stride
    /// n / 2): colpali_bf16_gemm_geglu, for W packed with its two halves
    /// interleaved. Every part of the split starts at an even panel.
    func applyGeGLU(_ a: UnsafePointer<Float>, lda: Int, rows: Int, into out: UnsafeMutablePointer<UInt16>,
                    workspace: Workspace, context: ComputeContext) {
        fused(a, lda: lda, rows: rows, into: out, panelsPerPart: 2, what: "GeGLU", workspace: workspace,
              context: context) { a, packed, out, begin, end in
            colpali_bf16_gemm_geglu(a, Int32(rows), Int32(k), packed, Int32(n), out, begin, end)
        }
    }

    /// gelu_tanh of the product plus `bias`, in bf16 in the kernel's A
    /// layout (row stride colpali_bf16_stride(n)): colpali_bf16_gemm_gelu.
    func applyGELU(_ a: UnsafePointer<Float>, lda: Int, rows: Int, bias: UnsafePointer<Float>?,
                   into out: UnsafeMutablePointer<UInt16>, workspace: Workspace, context: ComputeContext) {
        let bias = UnsafeSendable(bias)
        fused(a, lda: lda, rows: rows, into: out, panelsPerPart: 1, what: "GELU", workspace: workspace,
              context: context) { a, packed, out, begin, end in
            colpali_bf16_gemm_gelu(a, Int32(rows), Int32(k), packed, Int32(n), bias.value, out, begin, end)
        }
    }

    /// A product whose epilogue writes bf16 for the next one: A converted,
    /// then `kernel` over the panels in parts that start at a multiple of
    /// `panelsPerPart`; the kernel returns 0, or -1 where it cannot fuse.
    private func fused(_ a: UnsafePointer<Float>, lda: Int, rows: Int, into out: UnsafeMutablePointer<UInt16>,
                       panelsPerPart: Int, what: String, workspace: Workspace, context: ComputeContext,
                       _ kernel: @escaping (_ a: UnsafePointer<UInt16>, _ packed: UnsafePointer<UInt16>,
                                            _ out: UnsafeMutablePointer<UInt16>, _ begin: Int32, _ end: Int32) -> Int32) {
        let converted = UnsafeSendable(UnsafePointer(convert(a, lda: lda, rows: rows, into: .linearInput,
                                                             workspace: workspace, context: context)))
        let panels = Int(colpali_bf16_panel_count(Int32(n)))
        let (packed, output) = (UnsafeSendable(packed), UnsafeSendable(out))
        let parts = (panels + panelsPerPart - 1) / panelsPerPart
        context.parallel(parts, chunksPerThread: Self.chunksPerThread) { begin, end in
            let done = kernel(converted.value, packed.value, output.value, Int32(panelsPerPart * begin),
                              Int32(min(panelsPerPart * end, panels)))
            precondition(done == 0, "the matrix kernel cannot fuse \(what)")
        }
    }

    /// Splits a product across the threads: by panels, or, with few panels
    /// (attention's p v has two for a head of 72), by rows, every chunk
    /// taking all panels and starting on a whole group of the kernel's A
    /// layout (16 rows for AMX tiles).
    private func split(rows: Int, panels: Int, context: ComputeContext,
                       _ body: @escaping (_ rows: Range<Int>, _ panels: Range<Int>) -> Void) {
        if panels < context.threads * Self.chunksPerThread {
            let group = Int(colpali_bf16_row_group())
            let groups = (rows + group - 1) / group
            context.parallel(groups, minimumChunk: max(1, 32 / group), chunksPerThread: Self.chunksPerThread) {
                body($0 * group..<min($1 * group, rows), 0..<panels)
            }
        } else {
            context.parallel(panels, chunksPerThread: Self.chunksPerThread) { body(0..<rows, $0..<$1) }
        }
    }
}
