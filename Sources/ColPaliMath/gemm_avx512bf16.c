/*
 * The bf16 GEMM on AVX-512 BF16 (vdpbf16ps), A in bf16.
 *
 * vdpbf16ps multiplies pairs of bf16 and accumulates into float32: lane j
 * gets a[2j] * b[2j] + a[2j+1] * b[2j+1]. The microkernel holds an 8 x 48
 * tile of C in 24 registers; per k-pair it loads 3 vectors of packed weights
 * (48 output columns x 2) and broadcasts one (k, k+1) pair of A per row.
 * K is blocked so a weight sub-panel stays in cache while every row of A
 * passes over it. Only the pairs that hold k's columns are multiplied, not
 * the panel's padding.
 */
#include "gemm_internal.h"

#if COLPALI_MATH_X86
#include <immintrin.h>

#define MR 8
#define NRV 3
#define KC 1024

_Static_assert(NRV * 16 == PANEL, "panel width");

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

BF16_TARGET void colpali_bf16_from_float_avx512bf16(const float *a, int lda, int k, int row_begin, int row_end,
                                                    uint16_t *out, int tiled)
{
    const int stride = colpali_bf16_stride(k);
    /* Both layouts keep 32 consecutive elements of a row together. */
    const size_t block_step = tiled ? COLPALI_A_GROUP * COLPALI_A_BLOCK : COLPALI_A_BLOCK;
    for (int r = row_begin; r < row_end; r++) {
        const float *src = a + (size_t)r * lda;
        uint16_t *dst = out + colpali_a_index(r, 0, stride, tiled);
        int i = 0;
        for (; i + 32 <= k; i += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
            _mm512_storeu_si512(dst + (size_t)(i / 32) * block_step, (__m512i)v);
        }
        if (i < k) {
            uint16_t *last = dst + (size_t)(i / 32) * block_step;
            for (int j = 0; j < 32; j++)
                last[j] = i + j < k ? colpali_round_to_bf16(src[i + j]) : 0;
        }
    }
}

/* exp(x) for x <= 0 in 16 lanes: Cephes' polynomial, as the elementwise
 * kernels' exp (about 1 ulp); below -87 it is 0 or nearly. */
BF16_TARGET static inline __m512 exp_nonpositive(__m512 x)
{
    /* NaN in, NaN out: vmaxps returns its second operand when one is NaN. */
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* Two passes over a row: its maximum, then the exponentials, summed and
 * written as bf16 32 at a time (one row of an A tile, or of a row-major A).
 * (Softmax in place, then a conversion, went over the 4 KB row five times:
 * 41 us for 64 rows of 1,030 against 27 now; Xeon, cpu family 6 model 207.) */
BF16_TARGET void colpali_bf16_softmax_rows_avx512bf16(const float *scores, int ld, int cols, float scale,
                                                      int row_begin, int row_end, uint16_t *out,
                                                      float *inverse_sums, int tiled)
{
    const int stride = colpali_bf16_stride(cols);
    const size_t block_step = tiled ? COLPALI_A_GROUP * COLPALI_A_BLOCK : COLPALI_A_BLOCK;
    const __m512 scales = _mm512_set1_ps(scale);
    for (int r = row_begin; r < row_end; r++) {
        const float *row = scores + (size_t)r * ld;
        __m512 top = _mm512_set1_ps(-__builtin_inff());
        int i = 0;
        for (; i + 16 <= cols; i += 16)
            top = _mm512_max_ps(top, _mm512_mul_ps(_mm512_loadu_ps(row + i), scales));
        if (i < cols) {
            const __mmask16 tail = (__mmask16)((1u << (cols - i)) - 1);
            top = _mm512_mask_max_ps(top, tail, top, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + i), scales));
        }
        const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(top));
        __m512 sum = _mm512_setzero_ps();
        uint16_t *dst = out + colpali_a_index(r, 0, stride, tiled);
        for (int b = 0; b < stride; b += 32) {
            __m512 half[2];
            for (int h = 0; h < 2; h++) {
                const int at = b + 16 * h, left = cols - at;
                const __mmask16 lanes = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
                const __m512 x = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(lanes, row + at), scales, max);
                half[h] = _mm512_maskz_mov_ps(lanes, exp_nonpositive(x)); /* the padding is 0 */
                sum = _mm512_add_ps(sum, half[h]);
            }
            _mm512_storeu_si512(dst + (size_t)(b / 32) * block_step, (__m512i)_mm512_cvtne2ps_pbh(half[1], half[0]));
        }
        inverse_sums[r - row_begin] = 1.0f / _mm512_reduce_add_ps(sum);
    }
}

/* One MR x 48 tile over kpairs k-pairs; `rows` and `cols` trim the edges. */
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
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * PANEL + 0) * 2);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * PANEL + 16) * 2);
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + ((size_t)q * PANEL + 32) * 2);
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

BF16_TARGET void colpali_gemm_avx512bf16(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c,
                                         int ldc, const float *bias, int panel_begin, int panel_end)
{
    const int stride = colpali_bf16_stride(k);
    const int panel_pairs = colpali_packed_pairs(k);
    const int kpairs = (k + 1) / 2;
    /* Rows in blocks of about 4 MiB of A, so a block stays in the last-level
     * cache while every weight panel passes over it (wide-K layers such as
     * Gemma's down projection would otherwise stream A from memory once per
     * panel). */
    int block_rows = (int)((4u << 20) / ((size_t)stride * 2));
    block_rows = block_rows < MR ? MR : block_rows / MR * MR;
    for (int m0 = 0; m0 < m; m0 += block_rows) {
        const int m1 = m0 + block_rows < m ? m0 + block_rows : m;
        for (int p = panel_begin; p < panel_end; p++) {
            const uint16_t *panel = packed + (size_t)p * panel_pairs * PANEL * 2;
            const int cols = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
            for (int q0 = 0; q0 < kpairs; q0 += KC / 2) {
                const int block = kpairs - q0 < KC / 2 ? kpairs - q0 : KC / 2;
                const int last = q0 + block == kpairs;
                for (int r0 = m0; r0 < m1; r0 += MR) {
                    const int rows = m1 - r0 < MR ? m1 - r0 : MR;
                    micro_tile(block, a + (size_t)r0 * stride + 2 * q0, stride, rows, panel + (size_t)q0 * PANEL * 2,
                               c + (size_t)r0 * ldc + p * PANEL, ldc, cols, q0 > 0,
                               last && bias ? bias + (size_t)p * PANEL : NULL);
                }
            }
        }
    }
}
#endif
