/*
 * bf16 GEMM with AVX-512 BF16: C[m, n] = A[m, k] . W[n, k]^T.
 *
 * vdpbf16ps multiplies pairs of bf16 and accumulates into float32: lane j
 * gets a[2j] * b[2j] + a[2j+1] * b[2j+1]. The microkernel holds an 8 x 48
 * tile of C in 24 registers; per k-pair it loads 3 vectors of packed weights
 * (48 output columns x 2) and broadcasts one (k, k+1) pair of A per row.
 * Weights are packed once: panel p, k-pair q, column j, element e at
 * ((p * kpairs + q) * 48 + j) * 2 + e. K is blocked so a weight sub-panel
 * stays in cache while every row of A passes over it.
 */
#include <string.h>

#include "colpali_kernels.h"
#include "colpali_math.h"

#define MR 8
#define NRV 3
#define NR (NRV * 16)
#define KC 1024

_Static_assert(NR == COLPALI_BF16_PANEL, "panel width");

static inline uint16_t round_to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu))
        return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static inline float bf16_to_float(uint16_t value)
{
    uint32_t bits = (uint32_t)value << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

int colpali_bf16_panel_count(int n) { return (n + NR - 1) / NR; }

size_t colpali_bf16_packed_bytes(int n, int k)
{
    return (size_t)colpali_bf16_panel_count(n) * (size_t)colpali_bf16_stride(k) * NR * sizeof(uint16_t);
}

/* Fills panel p from READ(row, col), zero beyond the matrix. Columns go in
 * blocks of 64, so the 48 source rows are each read 128 bytes at a time
 * rather than 4 bytes per row switch (which thrashes the TLB on wide
 * weights). */
#define PACK_PANEL(READ)                                                                                           \
    do {                                                                                                           \
        uint16_t *panel = packed + (size_t)p * kpairs * NR * 2;                                                   \
        const int rows_here = n - p * NR < NR ? n - p * NR : NR;                                                   \
        for (int q0 = 0; q0 < kpairs; q0 += 32) {                                                                  \
            const int q1 = q0 + 32 < kpairs ? q0 + 32 : kpairs;                                                    \
            for (int j = 0; j < NR; j++) {                                                                         \
                const size_t row = (size_t)p * NR + j;                                                             \
                for (int q = q0; q < q1; q++) {                                                                    \
                    uint16_t *out = panel + ((size_t)q * NR + j) * 2;                                              \
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
    const int kpairs = colpali_bf16_stride(k) / 2;
    for (int p = panel_begin; p < panel_end; p++) {
        if ((k & 1) == 0 && (p + 1) * NR <= n) {
            /* The common case, a full panel of an even-width weight: a
             * transpose of 32-bit (k, k+1) pairs, in cache-sized blocks. */
            uint32_t *panel = (uint32_t *)(packed + (size_t)p * kpairs * NR * 2);
            for (int q0 = 0; q0 < kpairs; q0 += 64) {
                const int q1 = q0 + 64 < kpairs ? q0 + 64 : kpairs;
                for (int j = 0; j < NR; j++) {
                    const uint16_t *row = rows[(size_t)p * NR + j];
                    for (int q = q0; q < q1; q++) {
                        uint32_t pair;
                        memcpy(&pair, row + 2 * q, 4);
                        panel[(size_t)q * NR + j] = pair;
                    }
                }
            }
        } else {
#define READ_ROWS(row, col) rows[row][col]
            PACK_PANEL(READ_ROWS);
#undef READ_ROWS
        }
    }
}

void colpali_bf16_pack_strided(const float *w, size_t row_stride, size_t col_stride, int n, int k, uint16_t *packed,
                               int panel_begin, int panel_end)
{
    const int kpairs = colpali_bf16_stride(k) / 2;
    for (int p = panel_begin; p < panel_end; p++) {
#define READ_STRIDED(row, col) round_to_bf16(w[(row) * row_stride + (size_t)(col) * col_stride])
        PACK_PANEL(READ_STRIDED);
#undef READ_STRIDED
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int colpali_bf16_native(void)
{
    static int cpu_has_bf16 = -1;
    if (cpu_has_bf16 < 0) {
        __builtin_cpu_init();
        cpu_has_bf16 = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
    }
    return cpu_has_bf16 && strcmp(colpali_kernel_isa(), "avx512") == 0;
}

BF16_TARGET static void convert_native(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out)
{
    const int stride = colpali_bf16_stride(k);
    for (int r = row_begin; r < row_end; r++) {
        const float *src = a + (size_t)r * lda;
        uint16_t *dst = out + (size_t)r * stride;
        int i = 0;
        for (; i + 32 <= k; i += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
            _mm512_storeu_si512(dst + i, (__m512i)v);
        }
        for (; i < k; i++)
            dst[i] = round_to_bf16(src[i]);
        if (stride > k)
            dst[k] = 0;
    }
}

/* One MR x NR tile over kpairs k-pairs; `rows` and `cols` trim the edges. */
BF16_TARGET static void micro_tile(int kpairs, const uint16_t *a, int a_stride, int rows, const uint16_t *b,
                                   float *c, int ldc, int cols, int accumulate, const float *bias)
{
    __m512 acc[MR][NRV];
    const uint32_t *arow[MR];
    for (int r = 0; r < MR; r++) {
        arow[r] = (const uint32_t *)(a + (size_t)(r < rows ? r : rows - 1) * a_stride);
        for (int v = 0; v < NRV; v++)
            acc[r][v] = _mm512_setzero_ps();
    }
    for (int q = 0; q < kpairs; q++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * NR + 0) * 2);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * NR + 16) * 2);
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * NR + 32) * 2);
        for (int r = 0; r < MR; r++) {
            const __m512bh pair = (__m512bh)_mm512_set1_epi32((int)arow[r][q]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], pair, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], pair, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], pair, b2);
        }
    }
    for (int v = 0; v < NRV; v++) {
        const int col = v * 16;
        if (col >= cols)
            break;
        const int count = cols - col < 16 ? cols - col : 16;
        const __mmask16 mask = (__mmask16)((1u << count) - 1u);
        const __m512 add = bias ? _mm512_maskz_loadu_ps(mask, bias + col) : _mm512_setzero_ps();
        for (int r = 0; r < rows; r++) {
            float *dst = c + (size_t)r * ldc + col;
            __m512 value = _mm512_add_ps(acc[r][v], add);
            if (accumulate)
                value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, dst));
            _mm512_mask_storeu_ps(dst, mask, value);
        }
    }
}

BF16_TARGET static void gemm_native(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c,
                                    int ldc, const float *bias, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k);
    const int kpairs = stride / 2;
    /* Rows in blocks of about 4 MiB of A, so a block stays in the last-level
     * cache while every weight panel passes over it (wide-K layers such as
     * Gemma's down projection would otherwise stream A from memory once per
     * panel). */
    int block_rows = (int)((4u << 20) / ((size_t)stride * 2));
    block_rows = block_rows < MR ? MR : block_rows / MR * MR;
    for (int m0 = 0; m0 < m; m0 += block_rows) {
        const int m1 = m0 + block_rows < m ? m0 + block_rows : m;
        for (int p = panel_begin; p < panel_end; p++) {
            const uint16_t *panel = packed + (size_t)p * kpairs * NR * 2;
            const int cols = n - p * NR < NR ? n - p * NR : NR;
            for (int q0 = 0; q0 < kpairs; q0 += KC / 2) {
                const int block = kpairs - q0 < KC / 2 ? kpairs - q0 : KC / 2;
                const int last = q0 + block == kpairs;
                for (int r0 = m0; r0 < m1; r0 += MR) {
                    const int rows = m1 - r0 < MR ? m1 - r0 : MR;
                    micro_tile(block, a + (size_t)r0 * stride + 2 * q0, stride, rows, panel + (size_t)q0 * NR * 2,
                               c + (size_t)r0 * ldc + p * NR, ldc, cols, q0 > 0,
                               last && bias ? bias + (size_t)p * NR : NULL);
                }
            }
        }
    }
}
#else
int colpali_bf16_native(void) { return 0; }
#endif

/* Portable path: the same products, one at a time. */
static void gemm_portable(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                          const float *bias, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k);
    const int kpairs = stride / 2;
    for (int p = panel_begin; p < panel_end; p++) {
        const uint16_t *panel = packed + (size_t)p * kpairs * NR * 2;
        for (int j = 0; j < NR && p * NR + j < n; j++) {
            for (int r = 0; r < m; r++) {
                float sum = 0;
                for (int q = 0; q < kpairs; q++)
                    for (int e = 0; e < 2; e++)
                        sum += bf16_to_float(a[(size_t)r * stride + 2 * q + e]) *
                               bf16_to_float(panel[((size_t)q * NR + j) * 2 + e]);
                c[(size_t)r * ldc + p * NR + j] = sum + (bias ? bias[p * NR + j] : 0.0f);
            }
        }
    }
}

void colpali_bf16_from_float(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out)
{
#if defined(__x86_64__)
    if (colpali_bf16_native()) {
        convert_native(a, lda, k, row_begin, row_end, out);
        return;
    }
#endif
    const int stride = colpali_bf16_stride(k);
    for (int r = row_begin; r < row_end; r++) {
        for (int i = 0; i < k; i++)
            out[(size_t)r * stride + i] = round_to_bf16(a[(size_t)r * lda + i]);
        if (stride > k)
            out[(size_t)r * stride + k] = 0;
    }
}

void colpali_bf16_gemm(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                       const float *bias, int panel_begin, int panel_end)
{
#if defined(__x86_64__)
    if (colpali_bf16_native()) {
        gemm_native(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
    }
#endif
    gemm_portable(a, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
}
