/*
 * The bf16 GEMM on AVX2 + FMA, for CPUs without AVX-512 BF16 or AMX: the
 * weights stay bf16 in memory (half of float32's bytes and bandwidth) and
 * are widened to float32 a block at a time, in L1; A is read as float32 and
 * not rounded.
 *
 * A packed (k, k+1) pair is one 32-bit lane: the k element is the low half,
 * so shifting the lane left by 16 gives it as a float; masking off the low
 * half gives the k+1 element.
 *
 * Blocking, as BLAS does it: rows of A in blocks of MC and k in blocks of
 * KCP pairs; the A block is copied, interleaved six rows at a time, to a
 * buffer (MC x 2 KCP floats, 192 KiB: the core's L2) that every panel of
 * the thread's range then passes over. Each 16-column third of a panel's k
 * block is widened once (2 KCP x 16 floats, 16 KiB: L1) and multiplied
 * with every six rows of the A block by a 6 x 16 microkernel: 12
 * accumulators, per k two loads of weights, six broadcasts, twelve FMAs.
 * Measured on a 2-core AMD EPYC (Zen 3): copying A rather than reading its
 * rows in place (8 KiB apart, so aliasing in L1) took one thread from 60%
 * to 80% of the FMA peak; widening in registers, per microkernel, was
 * slower than widening each block once.
 */
#include <stdlib.h>

#include "gemm_internal.h"

#if COLPALI_MATH_X86
#include <immintrin.h>

#define MR 6
#define MC 192
#define KCP 128

_Static_assert(MC % MR == 0, "row blocks hold whole microtiles");

#define AVX2_TARGET __attribute__((target("avx2,fma")))

/* Widens k-pairs [0, pairs) of one 16-column third of a panel (row stride
 * PANEL pairs) to float32: wide[kk * 16 + j] = W[column j, k0 + kk]. */
AVX2_TARGET static void widen(const uint32_t *b, int pairs, float *wide)
{
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int q = 0; q < pairs; q++) {
        const uint32_t *row = b + (size_t)q * PANEL;
        const __m256i p0 = _mm256_loadu_si256((const __m256i *)row);
        const __m256i p1 = _mm256_loadu_si256((const __m256i *)(row + 8));
        _mm256_store_ps(wide + 32 * q, _mm256_castsi256_ps(_mm256_slli_epi32(p0, 16)));
        _mm256_store_ps(wide + 32 * q + 8, _mm256_castsi256_ps(_mm256_slli_epi32(p1, 16)));
        _mm256_store_ps(wide + 32 * q + 16, _mm256_castsi256_ps(_mm256_and_si256(p0, high)));
        _mm256_store_ps(wide + 32 * q + 24, _mm256_castsi256_ps(_mm256_and_si256(p1, high)));
    }
}

/* Rows [0, rows) of A's columns [0, depth) interleaved for the
 * microkernel: packed[kk * MR + r] = A[r, kk], rows beyond `rows` zero. */
static void pack_rows(const float *a, int lda, int rows, int depth, float *packed)
{
    for (int kk = 0; kk < depth; kk++)
        for (int r = 0; r < MR; r++)
            packed[kk * MR + r] = r < rows ? a[(size_t)r * lda + kk] : 0.0f;
}

/* C[0..rows, 0..cols) (+)= A . wide, A packed by pack_rows. */
AVX2_TARGET __attribute__((noinline)) static void micro_tile(int depth, const float *ap, int rows, const float *wide,
                                                             float *c, int ldc, int cols, int accumulate,
                                                             const float *bias)
{
    __m256 acc[MR][2];
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
        /* C's rows are far apart (a whole output row each) and rarely in
         * cache: ask for them now, so the misses overlap the products
         * instead of stalling the stores (a fifth of the time without). */
        if (r < rows) {
            _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + (size_t)r * ldc + 15), _MM_HINT_T0);
        }
    }
    for (int kk = 0; kk < depth; kk++) {
        const __m256 b0 = _mm256_load_ps(wide + 16 * kk);
        const __m256 b1 = _mm256_load_ps(wide + 16 * kk + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(ap + kk * MR + r);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    if (rows == MR && cols == 16) {
        const __m256 add0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        const __m256 add1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        for (int r = 0; r < MR; r++) {
            float *dst = c + (size_t)r * ldc;
            __m256 v0 = _mm256_add_ps(acc[r][0], add0), v1 = _mm256_add_ps(acc[r][1], add1);
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(dst));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(dst + 8));
            }
            _mm256_storeu_ps(dst, v0);
            _mm256_storeu_ps(dst + 8, v1);
        }
        return;
    }
    /* Edges: through memory, the columns and rows that exist. */
    float tile[MR][16];
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(tile[r], acc[r][0]);
        _mm256_storeu_ps(tile[r] + 8, acc[r][1]);
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float value = tile[r][j] + (bias ? bias[j] : 0.0f);
            c[(size_t)r * ldc + j] = accumulate ? c[(size_t)r * ldc + j] + value : value;
        }
}

AVX2_TARGET void colpali_gemm_avx2(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                                   int ldc, const float *bias, int panel_begin, int panel_end)
{
    /* One widened third of a panel's k block (2 KCP x 16 floats), and the
     * A block packed by microtile (MC x 2 KCP floats). */
    float wide[2 * KCP * 16] __attribute__((aligned(32)));
    float *a_block = colpali_gemm_buffer((size_t)MC * 2 * KCP * sizeof(float));
    if (a_block == NULL) {
        /* Out of memory: slower, but the product, not a crash. */
        colpali_gemm_portable_float(a, lda, m, k, packed, n, c, ldc, bias, panel_begin, panel_end);
        return;
    }
    const int panel_pairs = colpali_packed_pairs(k);
    const int kpairs = (k + 1) / 2;
    for (int m0 = 0; m0 < m; m0 += MC) {
        const int m1 = m0 + MC < m ? m0 + MC : m;
        for (int q0 = 0; q0 < kpairs; q0 += KCP) {
            const int block = kpairs - q0 < KCP ? kpairs - q0 : KCP;
            const int last = q0 + block == kpairs;
            /* The columns of k this block holds (an odd k ends mid-pair). */
            const int depth = last ? k - 2 * q0 : 2 * block;
            for (int r0 = m0; r0 < m1; r0 += MR)
                pack_rows(a + (size_t)r0 * lda + 2 * q0, lda, m1 - r0 < MR ? m1 - r0 : MR, depth,
                          a_block + (size_t)(r0 - m0) * 2 * KCP);
            for (int p = panel_begin; p < panel_end; p++) {
                const uint32_t *panel = (const uint32_t *)packed + ((size_t)p * panel_pairs + q0) * PANEL;
                const int panel_cols = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
                for (int s = 0; s * 16 < panel_cols; s++) {
                    const int cols = panel_cols - s * 16 < 16 ? panel_cols - s * 16 : 16;
                    const int col = p * PANEL + s * 16;
                    widen(panel + s * 16, block, wide);
                    for (int r0 = m0; r0 < m1; r0 += MR) {
                        const int rows = m1 - r0 < MR ? m1 - r0 : MR;
                        micro_tile(depth, a_block + (size_t)(r0 - m0) * 2 * KCP, rows, wide,
                                   c + (size_t)r0 * ldc + col, ldc, cols, q0 > 0, last && bias ? bias + col : NULL);
                    }
                }
            }
        }
    }
    free(a_block);
}
#endif
