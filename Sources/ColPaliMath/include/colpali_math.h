/*
 * colpali_math.h: the numeric kernels of the native ColPali model that
 * OpenBLAS does not provide: a bf16-weight matrix multiply (AMX, AVX-512
 * BF16 or AVX2) with weights packed once at load time, and the elementwise
 * operations of SigLIP and Gemma (norms, GELU, softmax, RoPE), vectorised.
 *
 * Matrices are row-major float32 unless said otherwise. Functions that take
 * a row range [begin, end) let the caller split work across threads.
 */
#ifndef COLPALI_MATH_H
#define COLPALI_MATH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- bf16 GEMM: C[m, n] = A[m, k] . W[n, k]^T (+ bias) -------------------
 * W (a Linear layer's weight, [out, in]) is packed once into panels of
 * COLPALI_BF16_PANEL output columns, k in pairs, and stays bf16: half the
 * memory of float32. Accumulation is float32. One kernel per instruction
 * set, chosen at run time (best first):
 *   amx         AMX-BF16 tiles (tdpbf16ps), where the CPU has them and
 *               Linux grants the process the tile state;
 *   avx512bf16  vdpbf16ps;
 *   avx2        bf16 weights widened to float32 in registers, FMA;
 *   portable    plain C, the same products (slow).
 * amx and avx512bf16 read A as bf16 (colpali_bf16_from_float, then
 * colpali_bf16_gemm; amx in its own tiled layout); avx2 and portable read it as float
 * (colpali_bf16_gemm_float), so A is not rounded. */

#define COLPALI_BF16_PANEL 48

typedef enum {
    COLPALI_GEMM_PORTABLE = 0,
    COLPALI_GEMM_AVX2 = 1,
    COLPALI_GEMM_AVX512BF16 = 2,
    COLPALI_GEMM_AMX = 3,
    /* The AMX kernel's tiling on a C model of the tile instructions
     * (Intel's pseudocode for tileloadd, tdpbf16ps, tilestored): for tests
     * on machines without AMX; never chosen automatically. */
    COLPALI_GEMM_AMX_EMULATED = 4,
} colpali_gemm_kernel;

/* The kernel the calling thread uses: its forced one, else the process's
 * (COLPALI_GEMM=amx|avx512bf16|avx2|portable when set and usable, else the
 * best this CPU supports; decided once). */
colpali_gemm_kernel colpali_bf16_kernel(void);
const char *colpali_bf16_kernel_name(colpali_gemm_kernel kernel);

/* 1 when the kernel of that name runs on this machine, 0 when it exists
 * but cannot run here, -1 for an unknown name. */
int colpali_bf16_kernel_available(const char *name);

/* Forces a kernel by name for the calling thread only ("auto" undoes it).
 * Returns -1, changing nothing, for an unknown name or one this machine
 * cannot run. */
int colpali_bf16_force_kernel(const char *name);

/* For tests: while on, the calling thread's kernels get no memory for their
 * working buffers, as when the allocator fails, and must still compute the
 * product (they fall back to the portable kernel, which needs none). */
void colpali_bf16_simulate_out_of_memory(int on);

/* 1 when the calling thread's kernel reads A as float. */
int colpali_bf16_reads_float(void);

/* Row stride, in bf16 elements, of a k-wide bf16 matrix: k rounded up to a
 * multiple of 32 (one AMX tile row), the padding zero. */
static inline int colpali_bf16_stride(int k) { return (k + 31) & ~31; }

/* Size in bytes of the packed form of an n x k weight. */
size_t colpali_bf16_packed_bytes(int n, int k);
int colpali_bf16_panel_count(int n);

/* Packs panels [panel_begin, panel_end) of a bf16 weight given as one
 * pointer per row (rows of stacked tensors, e.g. q, k and v, need no copy).
 * Panels are independent: split them across threads. */
void colpali_bf16_pack_rows(const uint16_t *const *rows, int n, int k, uint16_t *packed, int panel_begin,
                            int panel_end);

/* The same for a float matrix (rounded to nearest even) whose element
 * (row, col) is at w[row * row_stride + col * col_stride]: a whole weight
 * (k, 1), a slice of a wider matrix, or a transposed one (attention packs
 * keys, and values transposed, this way). */
void colpali_bf16_pack_strided(const float *w, size_t row_stride, size_t col_stride, int n, int k, uint16_t *packed,
                               int panel_begin, int panel_end);

/* Rows of A the calling thread's kernel reads together: 16 for the AMX
 * kernels (A in tiles of 16 rows x 32 k), 1 for the others (A row-major).
 * A chunk of rows handed to colpali_bf16_gemm on its own must start at a
 * multiple of it; it then starts at row * colpali_bf16_stride(k) either way. */
int colpali_bf16_row_group(void);

/* bf16 elements a converted m x k A takes (rows rounded up to the group). */
size_t colpali_bf16_a_elements(int m, int k);

/* Rows [row_begin, row_end) of a float matrix (stride lda) to bf16 in the
 * layout the calling thread's kernel reads, padded with zeros to
 * colpali_bf16_stride(k). Any split of the rows works (each row has its own
 * place); `out` holds colpali_bf16_a_elements(m, k). */
void colpali_bf16_from_float(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out);

/* Attention's probabilities straight into the next product's A: for rows
 * [row_begin, row_end) of float scores (stride ld, cols used), writes
 * exp(scale * x - max of the row) in bf16, in the layout
 * colpali_bf16_from_float writes (k = cols), and 1 / (the row's sum of
 * those, summed before rounding) to inverse_sums[r - row_begin]. The
 * probabilities are the written values times that factor: multiply the
 * product's output rows by it (72 multiplies a row for a head of SigLIP,
 * against 1,030 to normalise the row of scores). NaN in a row gives NaN
 * out. `scores` is read only. */
void colpali_bf16_softmax_rows(const float *scores, int ld, int cols, float scale, int row_begin, int row_end,
                               uint16_t *out, float *inverse_sums);

/* Output column panels [panel_begin, panel_end) of C (stride ldc) for all m
 * rows; bias may be NULL. Panels are independent: split them across threads.
 * A is what colpali_bf16_from_float wrote. Call it when
 * colpali_bf16_reads_float() is 0; otherwise it runs the portable kernel. */
void colpali_bf16_gemm(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                       const float *bias, int panel_begin, int panel_end);

/* GeGLU straight from the product with a stacked gate-and-up weight, for
 * the MLP of Gemma: out[r, j] = gelu_tanh(gate[r, j]) * up[r, j] in bf16,
 * in the A layout of the following product (k = n / 2, row stride n / 2),
 * without C (n floats a row) ever being written. The weight is packed with
 * colpali_bf16_pack_rows from rows interleaved 16 at a time: gate rows
 * 16i..16i+15, then up rows 16i..16i+15, for i = 0, 1, ... Columns
 * [16i, 16i + 16) of out come from panels holding packed columns 32i to
 * 32i + 31, so a split of the panels must start each part at an even panel.
 * Returns 0, or -1 with nothing written where the calling thread's kernel
 * is not an AMX one (colpali_bf16_geglu_fused()), n is not a multiple of
 * 64 or panel_begin is odd. */
int colpali_bf16_gemm_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                            int panel_begin, int panel_end);

/* gelu_tanh of the product plus bias, in bf16 in the A layout of the
 * following product (k = n, row stride colpali_bf16_stride(n), the padding
 * columns zero), for SigLIP's MLP: C is never written. Any split of the
 * panels works. Returns 0, or -1 with nothing written where the calling
 * thread's kernel is not an AMX one (colpali_bf16_geglu_fused()). */
int colpali_bf16_gemm_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                           uint16_t *out, int panel_begin, int panel_end);

/* 1 when colpali_bf16_gemm_geglu and colpali_bf16_gemm_gelu run with the
 * calling thread's kernel. */
int colpali_bf16_geglu_fused(void);

/* The same with A float (row stride lda). Call it when
 * colpali_bf16_reads_float() is 1; otherwise it runs the portable kernel. */
void colpali_bf16_gemm_float(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                             int ldc, const float *bias, int panel_begin, int panel_end);

/* ---- elementwise: rows [row_begin, row_end) of a rows x dim matrix --------
 * AVX-512, AVX2+FMA or baseline code, following colpali_kernel_isa(). */

/* LayerNorm with weight and bias (SigLIP). */
void colpali_layer_norm(const float *x, float *out, int dim, const float *weight, const float *bias, float eps,
                        int row_begin, int row_end);

/* Gemma RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + weight). */
void colpali_rms_norm(const float *x, float *out, int dim, const float *weight, float eps, int row_begin, int row_end);

/* tanh-approximated GELU in place on [begin, end). */
void colpali_gelu_tanh(float *x, size_t begin, size_t end);
/* Exact (erf) GELU in place. */
void colpali_gelu_erf(float *x, size_t begin, size_t end);

/* Gemma's gated MLP: gate[i] = gelu_tanh(gate[i]) * up[i] on [begin, end). */
void colpali_geglu(float *gate, const float *up, size_t begin, size_t end);

/* y[i] += x[i] on [begin, end). */
void colpali_add(float *y, const float *x, size_t begin, size_t end);

/* Softmax of each row of `scale * x` (stride ld, cols used), in place. */
void colpali_softmax_rows(float *x, int ld, int cols, float scale, int row_begin, int row_end);

/* Rotary position embedding, rotate_half layout, in place on `heads` heads of
 * head_dim per row (row stride ld). Row r's angles have their cosines at
 * cosines[r * head_dim / 2 ...] and sines likewise. */
void colpali_rope(float *x, int ld, int heads, int head_dim, const float *cosines, const float *sines,
                  int row_begin, int row_end);

/* Divide each row by its L2 norm (no epsilon, as ColPali). */
void colpali_l2_normalize_rows(float *x, int dim, int row_begin, int row_end);

#ifdef __cplusplus
}
#endif

#endif
