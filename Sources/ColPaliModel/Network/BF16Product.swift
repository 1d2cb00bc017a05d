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
        // Few panels (attention's p v has two for a head of 72): split the
        // rows instead, every chunk taking all panels. A chunk starts on a
        // whole group of the kernel's A layout (16 rows for AMX tiles).
        let byRows = panels < context.threads * Self.chunksPerThread
        let group = Int(colpali_bf16_row_group())
        func split(_ body: @escaping (_ rows: Range<Int>, _ panels: Range<Int>) -> Void) {
            if byRows {
                let groups = (rows + group - 1) / group
                context.parallel(groups, minimumChunk: max(1, 32 / group), chunksPerThread: Self.chunksPerThread) {
                    body($0 * group..<min($1 * group, rows), 0..<panels)
                }
            } else {
                context.parallel(panels, chunksPerThread: Self.chunksPerThread) { body(0..<rows, $0..<$1) }
            }
        }
        if Self.readsFloat {
            let a = UnsafeSendable(a)
            split { rows, panels in
                colpali_bf16_gemm_float(a.value + rows.lowerBound * lda, Int32(lda), Int32(rows.count), k, packed.value, n,
                                        c.value + rows.lowerBound * ldc, Int32(ldc), bias.value,
                                        Int32(panels.lowerBound), Int32(panels.upperBound))
            }
            return
        }
        let stride = Int(colpali_bf16_stride(k))
        let input = UnsafeSendable(workspace.bf16(slot, count: colpali_bf16_a_elements(Int32(rows), k)))
        let source = UnsafeSendable(a)
        context.parallel(rows, minimumChunk: 16) { begin, end in
            colpali_bf16_from_float(source.value, Int32(lda), k, Int32(begin), Int32(end), input.value)
        }
        split { rows, panels in
            colpali_bf16_gemm(input.value + rows.lowerBound * stride, Int32(rows.count), k, packed.value, n,
                              c.value + rows.lowerBound * ldc, Int32(ldc), bias.value,
                              Int32(panels.lowerBound), Int32(panels.upperBound))
        }
    }
}
