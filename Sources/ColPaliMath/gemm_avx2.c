/*
 * The bf16 GEMM on AVX2 + FMA, for CPUs without AVX-512 BF16 or AMX: the
 * weights stay bf16 in memory (half of float32's bytes and bandwidth) and
 * are widened to float32 in registers; A is read as float32 and not rounded.
 *
 * A packed (k, k+1) pair is one 32-bit lane: the k element is the low half,
 * so shifting the lane left by 16 gives it as a float; masking off the low
 * half gives the k+1 element. The microkernel holds a 6 x 16 block of C in
 * 12 registers; per k-pair it loads 16 pairs (two vectors) of one third of
 * a panel, widens the even elements, does 12 FMAs with each row's A[k]
 * broadcast, then loads them again for the odd elements and A[k+1].
 *
 * Blocking: rows of A in blocks of MC, k in blocks of KCP pairs, so the A
 * block (MC x 2 KCP floats, 192 KiB) stays in the core's L2 while every
 * panel of the thread's range passes over it, and a 16-column sub-panel of
 * the weights (KCP x 16 pairs, 8 KiB) stays in L1 while every row of the
 * A block passes over it.
 */
#include "gemm_internal.h"

#if COLPALI_MATH_X86
#include <immintrin.h>

#define MR 6
#define MC 192
#define KCP 128

_Static_assert(MC % MR == 0, "row blocks hold whole microtiles");

#define AVX2_TARGET __attribute__((target("avx2,fma")))

/* C[0..rows, 0..cols) (+)= A[0..rows, 2 q0 ..) . sub-panel; `pairs` k-pairs,
 * the last one holding only its even element when `odd_end`. */
AVX2_TARGET __attribute__((noinline)) static void micro_tile(int pairs, int odd_end, const float *a, int lda, int rows, const uint32_t *b,
                                   float *c, int ldc, int cols, int accumulate, const float *bias)
{
    __m256 acc[MR][2];
    const float *ar[MR];
    for (int r = 0; r < MR; r++) {
        ar[r] = a + (size_t)(r < rows ? r : rows - 1) * lda;
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
    }
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    const int full = odd_end ? pairs - 1 : pairs;
    for (int q = 0; q < full; q++) {
        const uint32_t *row = b + (size_t)q * PANEL;
        const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)row), 16));
        const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(row + 8)), 16));
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + 2 * q);
            acc[r][0] = _mm256_fmadd_ps(x, e0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, e1, acc[r][1]);
        }
        /* Load the pairs again (from L1) rather than keep them: with 12
         * accumulators, two more live vectors would spill every pair. The
         * barrier stops the compiler from reusing the first load. */
        __asm__ volatile("" ::: "memory");
        const __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)row), high));
        const __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)(row + 8)), high));
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + 2 * q + 1);
            acc[r][0] = _mm256_fmadd_ps(x, o0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, o1, acc[r][1]);
        }
    }
    if (odd_end) {
        const int q = pairs - 1;
        const uint32_t *row = b + (size_t)q * PANEL;
        const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)row), 16));
        const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(row + 8)), 16));
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + 2 * q);
            acc[r][0] = _mm256_fmadd_ps(x, e0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, e1, acc[r][1]);
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
    const int panel_pairs = colpali_packed_pairs(k);
    const int kpairs = (k + 1) / 2;
    for (int m0 = 0; m0 < m; m0 += MC) {
        const int m1 = m0 + MC < m ? m0 + MC : m;
        for (int q0 = 0; q0 < kpairs; q0 += KCP) {
            const int block = kpairs - q0 < KCP ? kpairs - q0 : KCP;
            const int last = q0 + block == kpairs;
            const int odd_end = last && (k & 1);
            for (int p = panel_begin; p < panel_end; p++) {
                const uint32_t *panel = (const uint32_t *)packed + ((size_t)p * panel_pairs + q0) * PANEL;
                const int panel_cols = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
                for (int s = 0; s * 16 < panel_cols; s++) {
                    const int cols = panel_cols - s * 16 < 16 ? panel_cols - s * 16 : 16;
                    const int col = p * PANEL + s * 16;
                    for (int r0 = m0; r0 < m1; r0 += MR) {
                        const int rows = m1 - r0 < MR ? m1 - r0 : MR;
                        micro_tile(block, odd_end, a + (size_t)r0 * lda + 2 * q0, lda, rows, panel + s * 16,
                                   c + (size_t)r0 * ldc + col, ldc, cols, q0 > 0, last && bias ? bias + col : NULL);
                    }
                }
            }
        }
    }
}
#endif
