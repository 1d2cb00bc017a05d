/*
 * bf16 GEMM, C[m, n] = A[m, k] . W[n, k]^T: weight packing, A conversion,
 * the choice of kernel, and the portable kernel. The layout is described in
 * gemm_internal.h; the kernels per instruction set are in gemm_*.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "colpali_kernels.h"

#include "gemm_internal.h"

int colpali_bf16_panel_count(int n) { return (n + PANEL - 1) / PANEL; }

size_t colpali_bf16_packed_bytes(int n, int k)
{
    return (size_t)colpali_bf16_panel_count(n) * (size_t)colpali_bf16_stride(k) * PANEL * sizeof(uint16_t);
}

/* Fills panel p from READ(row, col), zero beyond the matrix. Columns go in
 * blocks of 64, so the 48 source rows are each read 128 bytes at a time
 * rather than 4 bytes per row switch (which thrashes the TLB on wide
 * weights). */
#define PACK_PANEL(READ)                                                                                           \
    do {                                                                                                           \
        uint16_t *panel = packed + (size_t)p * kpairs * PANEL * 2;                                                 \
        const int rows_here = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;                                       \
        for (int q0 = 0; q0 < kpairs; q0 += 32) {                                                                  \
            const int q1 = q0 + 32 < kpairs ? q0 + 32 : kpairs;                                                    \
            for (int j = 0; j < PANEL; j++) {                                                                      \
                const size_t row = (size_t)p * PANEL + j;                                                          \
                for (int q = q0; q < q1; q++) {                                                                    \
                    uint16_t *out = panel + ((size_t)q * PANEL + j) * 2;                                           \
                    const int col = 2 * q;                                                                         \
                    out[0] = j < rows_here && col < k ? READ(row, col) : 0;                                        \
                    out[1] = j < rows_here && col + 1 < k ? READ(row, col + 1) : 0;                                \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
    } while (0)

void colpali_bf16_pack_rows(const uint16_t *const *rows, int n, int k, uint16_t *packed, int panel_begin,
                            int panel_end)
{
    const int kpairs = colpali_packed_pairs(k);
    for (int p = panel_begin; p < panel_end; p++) {
        if ((k & 1) == 0 && (p + 1) * PANEL <= n) {
            /* The common case, a full panel of an even-width weight: a
             * transpose of 32-bit (k, k+1) pairs, in cache-sized blocks,
             * then zeros for the padding pairs. */
            uint32_t *panel = (uint32_t *)(packed + (size_t)p * kpairs * PANEL * 2);
            const int pairs = k / 2;
            for (int q0 = 0; q0 < pairs; q0 += 64) {
                const int q1 = q0 + 64 < pairs ? q0 + 64 : pairs;
                for (int j = 0; j < PANEL; j++) {
                    const uint16_t *row = rows[(size_t)p * PANEL + j];
                    for (int q = q0; q < q1; q++) {
                        uint32_t pair;
                        memcpy(&pair, row + 2 * q, 4);
                        panel[(size_t)q * PANEL + j] = pair;
                    }
                }
            }
            memset(panel + (size_t)pairs * PANEL, 0, (size_t)(kpairs - pairs) * PANEL * 4);
        } else {
#define READ_ROWS(row, col) rows[row][col]
            PACK_PANEL(READ_ROWS);
#undef READ_ROWS
        }
    }
}

/* A panel of a transposed float matrix (row_stride 1: a k index is a row
 * of w, the panel's columns are consecutive in it), as attention packs its
 * values: each k-pair interleaves two rows of w, read and written in order.
 * (Element by element through PACK_PANEL it took 118 us for a head of
 * SigLIP, 72 x 1,030; Xeon, cpu family 6 model 207.) */
static void pack_transposed_panel(const float *w, size_t col_stride, int n, int k, int kpairs, uint16_t *packed,
                                  int p)
{
    uint16_t *panel = packed + (size_t)p * kpairs * PANEL * 2;
    const int first = p * PANEL, width = n - first < PANEL ? n - first : PANEL;
    for (int q = 0; q < kpairs; q++) {
        uint32_t *out = (uint32_t *)(panel + (size_t)q * PANEL * 2);
        if (2 * q + 1 < k) {
            /* A whole pair: a loop the compiler vectorises. */
            const float *even = w + (size_t)(2 * q) * col_stride + first, *odd = even + col_stride;
            for (int j = 0; j < width; j++)
                out[j] = (uint32_t)colpali_round_to_bf16(even[j]) | (uint32_t)colpali_round_to_bf16(odd[j]) << 16;
        } else if (2 * q < k) {
            /* k odd: the last pair's second half is padding. */
            const float *even = w + (size_t)(2 * q) * col_stride + first;
            for (int j = 0; j < width; j++)
                out[j] = colpali_round_to_bf16(even[j]);
        } else {
            memset(out, 0, sizeof(uint32_t) * (size_t)width);
        }
        /* The panel's columns past n. */
        memset(out + width, 0, sizeof(uint32_t) * (size_t)(PANEL - width));
    }
}

/* A panel of a float matrix whose rows are contiguous (col_stride 1), as
 * attention packs its keys: a transpose of (k, k + 1) pairs, row by row
 * within blocks of k-pairs that stay in cache. */
static void pack_rows_panel(const float *w, size_t row_stride, int n, int k, int kpairs, uint16_t *packed, int p)
{
    uint32_t *panel = (uint32_t *)(packed + (size_t)p * kpairs * PANEL * 2);
    const int first = p * PANEL, width = n - first < PANEL ? n - first : PANEL;
    for (int q0 = 0; q0 < kpairs; q0 += 64) {
        const int q1 = q0 + 64 < kpairs ? q0 + 64 : kpairs;
        for (int j = 0; j < PANEL; j++) {
            const float *row = w + (size_t)(first + j) * row_stride;
            /* Pairs wholly inside the row, then the edge. */
            const int whole = j < width ? (k / 2 < q1 ? k / 2 : q1) : q0;
            int q = q0;
            for (; q < whole; q++)
                panel[(size_t)q * PANEL + j] =
                    (uint32_t)colpali_round_to_bf16(row[2 * q]) | (uint32_t)colpali_round_to_bf16(row[2 * q + 1]) << 16;
            for (; q < q1; q++) {
                const uint32_t lo = j < width && 2 * q < k ? colpali_round_to_bf16(row[2 * q]) : 0;
                panel[(size_t)q * PANEL + j] = lo; /* the odd half is past k */
            }
        }
    }
}

void colpali_bf16_pack_strided(const float *w, size_t row_stride, size_t col_stride, int n, int k, uint16_t *packed,
                               int panel_begin, int panel_end)
{
    const int kpairs = colpali_packed_pairs(k);
    for (int p = panel_begin; p < panel_end; p++) {
        if (row_stride == 1) {
            pack_transposed_panel(w, col_stride, n, k, kpairs, packed, p);
        } else if (col_stride == 1) {
            pack_rows_panel(w, row_stride, n, k, kpairs, packed, p);
        } else {
#define READ_STRIDED(row, col) colpali_round_to_bf16(w[(row) * row_stride + (size_t)(col) * col_stride])
            PACK_PANEL(READ_STRIDED);
#undef READ_STRIDED
        }
    }
}

/* ---- working buffers ------------------------------------------------------- */

static _Thread_local int simulated_out_of_memory;

void colpali_bf16_simulate_out_of_memory(int on) { simulated_out_of_memory = on; }

void *colpali_gemm_buffer(size_t bytes)
{
    if (simulated_out_of_memory)
        return NULL;
    /* aligned_alloc wants a multiple of the alignment. */
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

/* ---- choice of kernel ------------------------------------------------------ */

static const char *const kernel_names[] = {"portable", "avx2", "avx512bf16", "amx", "amx-emulated"};

const char *colpali_bf16_kernel_name(colpali_gemm_kernel kernel)
{
    return kernel >= COLPALI_GEMM_PORTABLE && kernel <= COLPALI_GEMM_AMX_EMULATED ? kernel_names[kernel] : "unknown";
}

static int usable(colpali_gemm_kernel kernel)
{
    switch (kernel) {
    case COLPALI_GEMM_PORTABLE:
    case COLPALI_GEMM_AMX_EMULATED:
        return 1;
#if COLPALI_MATH_X86
    case COLPALI_GEMM_AVX2:
        /* The elementwise kernels' probe (AVX2, FMA and F16C). */
        return strcmp(colpali_kernel_isa(), "scalar") != 0;
    case COLPALI_GEMM_AVX512BF16:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
    case COLPALI_GEMM_AMX:
        return colpali_amx_usable();
#endif
    default:
        return 0;
    }
}

static int kernel_named(const char *name)
{
    for (int i = 0; i <= COLPALI_GEMM_AMX_EMULATED; i++)
        if (strcmp(name, kernel_names[i]) == 0)
            return i;
    return -1;
}

static int process_kernel = -1;
static _Thread_local int forced_kernel = -1;

static int choose_process_kernel(void)
{
    const char *wanted = getenv("COLPALI_GEMM");
    if (wanted && *wanted && strcmp(wanted, "auto") != 0) {
        const int named = kernel_named(wanted);
        if (named >= 0 && named != COLPALI_GEMM_AMX_EMULATED && usable((colpali_gemm_kernel)named))
            return named;
    }
    /* AMX first: where it exists, vdpbf16ps can run at half the fp32 FMA
     * rate (measured on a Xeon, cpu family 6 model 207), tiles at 12x it. */
    const colpali_gemm_kernel order[] = {COLPALI_GEMM_AMX, COLPALI_GEMM_AVX512BF16, COLPALI_GEMM_AVX2};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (usable(order[i]))
            return order[i];
    return COLPALI_GEMM_PORTABLE;
}

colpali_gemm_kernel colpali_bf16_kernel(void)
{
    if (forced_kernel >= 0)
        return (colpali_gemm_kernel)forced_kernel;
    /* A benign race: every thread computes and stores the same value. */
    if (process_kernel < 0)
        process_kernel = choose_process_kernel();
    return (colpali_gemm_kernel)process_kernel;
}

int colpali_bf16_kernel_available(const char *name)
{
    const int named = kernel_named(name);
    return named < 0 ? -1 : usable((colpali_gemm_kernel)named);
}

int colpali_bf16_force_kernel(const char *name)
{
    if (strcmp(name, "auto") == 0) {
        forced_kernel = -1;
        return 0;
    }
    if (colpali_bf16_kernel_available(name) != 1)
        return -1;
    forced_kernel = kernel_named(name);
    return 0;
}

int colpali_bf16_reads_float(void)
{
    const colpali_gemm_kernel kernel = colpali_bf16_kernel();
    return kernel == COLPALI_GEMM_AVX2 || kernel == COLPALI_GEMM_PORTABLE;
}

/* ---- A to bf16, and the kernels ---------------------------------------------- */

int colpali_bf16_row_group(void)
{
    const colpali_gemm_kernel kernel = colpali_bf16_kernel();
    return kernel == COLPALI_GEMM_AMX || kernel == COLPALI_GEMM_AMX_EMULATED ? COLPALI_A_GROUP : 1;
}

size_t colpali_bf16_a_elements(int m, int k)
{
    const int group = colpali_bf16_row_group();
    return (size_t)((m + group - 1) / group * group) * colpali_bf16_stride(k);
}

/* Whether the calling thread's kernel reads A in tiles (gemm_internal.h). */
static int a_is_tiled(void) { return colpali_bf16_row_group() > 1; }

void colpali_bf16_from_float(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out)
{
    const int tiled = a_is_tiled();
#if COLPALI_MATH_X86
    if (usable(COLPALI_GEMM_AVX512BF16)) {
        colpali_bf16_from_float_avx512bf16(a, lda, k, row_begin, row_end, out, tiled);
        return;
    }
#endif
    const int stride = colpali_bf16_stride(k);
    for (int r = row_begin; r < row_end; r++) {
        for (int i = 0; i < k; i++)
            out[colpali_a_index(r, i, stride, tiled)] = colpali_round_to_bf16(a[(size_t)r * lda + i]);
        for (int i = k; i < stride; i++)
            out[colpali_a_index(r, i, stride, tiled)] = 0;
    }
}

void colpali_bf16_softmax_rows(const float *scores, int ld, int cols, float scale, int row_begin, int row_end,
                               uint16_t *out, float *inverse_sums)
{
    const int tiled = a_is_tiled();
#if COLPALI_MATH_X86
    /* Attention calls it for the kernels that read bf16, all of which need
     * AVX-512 BF16; with the others (tests force them) the loop below runs. */
    if (!colpali_bf16_reads_float() && usable(COLPALI_GEMM_AVX512BF16)) {
        colpali_bf16_softmax_rows_avx512bf16(scores, ld, cols, scale, row_begin, row_end, out, inverse_sums, tiled);
        return;
    }
#endif
    const int stride = colpali_bf16_stride(cols);
    for (int r = row_begin; r < row_end; r++) {
        const float *row = scores + (size_t)r * ld;
        float max = -__builtin_inff();
        for (int i = 0; i < cols; i++)
            max = row[i] * scale > max ? row[i] * scale : max;
        double sum = 0;
        for (int i = 0; i < cols; i++) {
            const float e = expf(row[i] * scale - max);
            sum += e;
            out[colpali_a_index(r, i, stride, tiled)] = colpali_round_to_bf16(e);
        }
        for (int i = cols; i < stride; i++)
            out[colpali_a_index(r, i, stride, tiled)] = 0;
        inverse_sums[r - row_begin] = (float)(1.0 / sum);
    }
}

/* Element (k index i, column col) of a packed weight: panel col / PANEL,
 * k-pair i / 2, then the column within the panel, then the pair's half. */
static inline float packed_at(const uint16_t *packed, int kpairs, int col, int i)
{
    return colpali_bf16_to_float(packed[(size_t)(col / PANEL) * kpairs * PANEL * 2 +
                                        ((size_t)(i / 2) * PANEL + col % PANEL) * 2 + (i & 1)]);
}

/* The portable kernels, one product at a time; A_AT(r, i) reads A. */
#define PORTABLE_GEMM(A_AT)                                                                                        \
    do {                                                                                                           \
        const int kpairs = colpali_packed_pairs(k);                                                                \
        for (int p = panel_begin; p < panel_end; p++) {                                                            \
            for (int j = 0; j < PANEL && p * PANEL + j < n; j++) {                                                 \
                for (int r = 0; r < m; r++) {                                                                      \
                    float sum = 0;                                                                                 \
                    for (int i = 0; i < k; i++)                                                                    \
                        sum += A_AT(r, i) * packed_at(packed, kpairs, p * PANEL + j, i);                           \
                    c[(size_t)r * ldc + p * PANEL + j] = sum + (bias ? bias[p * PANEL + j] : 0.0f);                \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
    } while (0)

void colpali_gemm_portable(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                           const float *bias, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k);
#define BF16_AT(r, i) colpali_bf16_to_float(a[(size_t)(r) * stride + (i)])
    PORTABLE_GEMM(BF16_AT);
#undef BF16_AT
}

void colpali_gemm_portable_tiled(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                                 const float *bias, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k);
#define TILED_AT(r, i) colpali_bf16_to_float(a[colpali_a_index(r, i, stride, 1)])
    PORTABLE_GEMM(TILED_AT);
#undef TILED_AT
}

void colpali_gemm_portable_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                                 int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k), kpairs = colpali_packed_pairs(k);
    for (int t = 3 * panel_begin; t + 1 < 3 * panel_end && 16 * (t / 2) < n / 2; t += 2) {
        for (int j = 0; j < 16; j++) {
            for (int r = 0; r < m; r++) {
                float gate = 0, up = 0;
                for (int i = 0; i < k; i++) {
                    const float x = colpali_bf16_to_float(a[colpali_a_index(r, i, stride, 1)]);
                    gate += x * packed_at(packed, kpairs, 16 * t + j, i);
                    up += x * packed_at(packed, kpairs, 16 * (t + 1) + j, i);
                }
                colpali_geglu(&gate, &up, 0, 1);
                out[colpali_a_index(r, 16 * (t / 2) + j, n / 2, 1)] = colpali_round_to_bf16(gate);
            }
        }
    }
}

void colpali_gemm_portable_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                                uint16_t *out, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k), kpairs = colpali_packed_pairs(k), out_stride = colpali_bf16_stride(n);
    for (int col = 16 * 3 * panel_begin; col < 16 * 3 * panel_end && col < out_stride; col++) {
        for (int r = 0; r < m; r++) {
            float sum = 0;
            if (col < n) {
                sum = bias != NULL ? bias[col] : 0.0f;
                for (int i = 0; i < k; i++)
                    sum += colpali_bf16_to_float(a[colpali_a_index(r, i, stride, 1)]) * packed_at(packed, kpairs, col, i);
                colpali_gelu_tanh(&sum, 0, 1);
            }
            out[colpali_a_index(r, col, out_stride, 1)] = colpali_round_to_bf16(sum);
        }
    }
}

int colpali_bf16_gemm_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                           uint16_t *out, int panel_begin, int panel_end)
{
    if (!colpali_bf16_geglu_fused())
        return -1;
#if COLPALI_MATH_X86
    if (colpali_bf16_kernel() == COLPALI_GEMM_AMX)
        colpali_gemm_amx_gelu(a, m, k, packed, n, bias, out, panel_begin, panel_end);
    else
#endif
        colpali_gemm_amx_emulated_gelu(a, m, k, packed, n, bias, out, panel_begin, panel_end);
    /* The row stride (n rounded up to 32) can reach past the last panel's
     * columns (n rounded up to 48), e.g. 48..63 for n = 40: those padding
     * columns belong to no panel, so the call that ends the panels zeroes
     * them. */
    const int stride = colpali_bf16_stride(n), covered = PANEL * panel_end;
    if (panel_end == colpali_bf16_panel_count(n) && covered < stride)
        for (int r = 0; r < m; r++)
            for (int col = covered; col < stride; col++)
                out[colpali_a_index(r, col, stride, 1)] = 0;
    return 0;
}

int colpali_bf16_geglu_fused(void)
{
    const colpali_gemm_kernel kernel = colpali_bf16_kernel();
    return kernel == COLPALI_GEMM_AMX || kernel == COLPALI_GEMM_AMX_EMULATED;
}

int colpali_bf16_gemm_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                            int panel_begin, int panel_end)
{
    if (!colpali_bf16_geglu_fused() || n % 64 != 0 || panel_begin % 2 != 0)
        return -1;
#if COLPALI_MATH_X86
    if (colpali_bf16_kernel() == COLPALI_GEMM_AMX) {
        colpali_gemm_amx_geglu(a, m, k, packed, n, out, panel_begin, panel_end);
        return 0;
    }
#endif
    colpali_gemm_amx_emulated_geglu(a, m, k, packed, n, out, panel_begin, panel_end);
    return 0;
}

void colpali_gemm_portable_float(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                                 int ldc, const float *bias, int panel_begin, int panel_end)
{
#define FLOAT_AT(r, i) a[(size_t)(r) * lda + (i)]
    PORTABLE_GEMM(FLOAT_AT);
#undef FLOAT_AT
}

void colpali_bf16_gemm(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                       const float *bias, int panel_begin, int panel_end)
{
    switch (colpali_bf16_kernel()) {
#if COLPALI_MATH_X86
    case COLPALI_GEMM_AMX:
        colpali_gemm_amx(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
    case COLPALI_GEMM_AVX512BF16:
        colpali_gemm_avx512bf16(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
#endif
    case COLPALI_GEMM_AMX_EMULATED:
        colpali_gemm_amx_emulated(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
    default:
        colpali_gemm_portable(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
    }
}

void colpali_bf16_gemm_float(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                             int ldc, const float *bias, int panel_begin, int panel_end)
{
#if COLPALI_MATH_X86
    if (colpali_bf16_kernel() == COLPALI_GEMM_AVX2) {
        colpali_gemm_avx2(a, lda, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
    }
#endif
    colpali_gemm_portable_float(a, lda, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
}
