/*
 * Nearest centroid by dot product: for each row of x, the index of the
 * centroid with the largest <x_i, c_j> (the first on ties). The candidate
 * index assigns every token of every page with it, so it is a small GEMM
 * of its own. Centroids are laid out in panels of 24, each dimension-major
 * and contiguous (k padded with copies of the last centroid, which never
 * beat it: ties keep the first), so a 4-row x 24-centroid block accumulates
 * in 12 AVX2 registers reading memory in order, with no horizontal sums,
 * and the running maximum and its index stay per lane.
 * AVX-512 CPUs take two panels at a time, 8 rows x 48 centroids in 24
 * registers (the 16 lanes straddling the two panels are one load and one
 * insert), twice the AVX2 path's floats per instruction: the build of a
 * million-page index is this loop. Each dot product is summed in the same
 * order on every path, so they all pick the same centroid.
 */
#include "kernels_internal.h"

#include <math.h>

#define PANEL 24

static inline size_t padded_k(int k) { return ((size_t)k + PANEL - 1) / PANEL * PANEL; }

size_t colpali_nearest_layout_floats(int k, int dim)
{
    return padded_k(k) * (size_t)dim;
}

void colpali_nearest_layout(const float *centroids, int k, int dim, float *layout)
{
    size_t kp = padded_k(k);
    for (size_t j = 0; j < kp; j++) {
        const float *c = centroids + (j < (size_t)k ? j : (size_t)k - 1) * dim;
        for (int d = 0; d < dim; d++)
            layout[(j / PANEL) * PANEL * dim + (size_t)d * PANEL + j % PANEL] = c[d];
    }
}

static void nearest_scalar(const float *x, int n, const float *layout, int k, int dim,
                           int32_t *index)
{
    colpali_budget budget = {0};
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float best = -INFINITY;
        int32_t arg = 0;
        colpali_spend(&budget, (size_t)k * (size_t)dim);
        for (size_t j = 0; j < (size_t)k; j++) {
            float s = 0;
            for (int d = 0; d < dim; d++)
                s += xi[d] * layout[(j / PANEL) * PANEL * dim + (size_t)d * PANEL + j % PANEL];
            if (s > best) {
                best = s;
                arg = (int32_t)j;
            }
        }
        index[i] = arg;
    }
}

#if COLPALI_X86
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* Keep, per lane, the larger of best and acc and the index it came from. */
AVX2 static inline void keep_max(__m256 *best, __m256i *arg, __m256 acc, int j)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 greater = _mm256_cmp_ps(acc, *best, _CMP_GT_OQ);
    *best = _mm256_blendv_ps(*best, acc, greater);
    *arg = _mm256_blendv_epi8(*arg, _mm256_add_epi32(_mm256_set1_epi32(j), lanes),
                              _mm256_castps_si256(greater));
}

/* The lane with the largest value; the smallest index among equals. */
AVX2 static inline int32_t lane_argmax(__m256 best, __m256i arg)
{
    float v[8];
    int32_t a[8];
    _mm256_storeu_ps(v, best);
    _mm256_storeu_si256((__m256i *)a, arg);
    int w = 0;
    for (int l = 1; l < 8; l++)
        if (v[l] > v[w] || (v[l] == v[w] && a[l] < a[w]))
            w = l;
    return a[w];
}

AVX2 static void nearest_avx2(const float *x, int n, const float *layout, int k, int dim,
                              int32_t *index)
{
    const size_t kp = padded_k(k);
    colpali_budget budget = {0};
    for (int i0 = 0; i0 < n; i0 += 4) {
        const float *xr[4];
        for (int r = 0; r < 4; r++)
            xr[r] = x + (size_t)(i0 + r < n ? i0 + r : n - 1) * dim;
        colpali_spend(&budget, (size_t)4 * kp * (size_t)dim);
        __m256 best[4];
        __m256i arg[4];
        for (int r = 0; r < 4; r++) {
            best[r] = _mm256_set1_ps(-INFINITY);
            arg[r] = _mm256_setzero_si256();
        }
        for (size_t j = 0; j < kp; j += PANEL) {
            __m256 acc[4][3];
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++)
                    acc[r][v] = _mm256_setzero_ps();
            const float *col = layout + j * dim;
            for (int d = 0; d < dim; d++, col += PANEL) {
                __m256 b0 = _mm256_loadu_ps(col);
                __m256 b1 = _mm256_loadu_ps(col + 8);
                __m256 b2 = _mm256_loadu_ps(col + 16);
                for (int r = 0; r < 4; r++) {
                    __m256 a = _mm256_broadcast_ss(xr[r] + d);
                    acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
                    acc[r][2] = _mm256_fmadd_ps(a, b2, acc[r][2]);
                }
            }
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++)
                    keep_max(&best[r], &arg[r], acc[r][v], (int)j + 8 * v);
        }
        for (int r = 0; r < 4 && i0 + r < n; r++) {
            int32_t a = lane_argmax(best[r], arg[r]);
            index[i0 + r] = a < k ? a : k - 1;
        }
    }
}

#define AVX512 __attribute__((target("avx512f")))
#define ROWS512 8

AVX512 static inline void keep_max16(__m512 *best, __m512i *arg, __m512 acc, int j)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 greater = _mm512_cmp_ps_mask(acc, *best, _CMP_GT_OQ);
    *best = _mm512_mask_mov_ps(*best, greater, acc);
    *arg = _mm512_mask_mov_epi32(*arg, greater, _mm512_add_epi32(_mm512_set1_epi32(j), lanes));
}

AVX512 static inline int32_t lane_argmax16(__m512 best, __m512i arg)
{
    float v[16];
    int32_t a[16];
    _mm512_storeu_ps(v, best);
    _mm512_storeu_si512(a, arg);
    int w = 0;
    for (int l = 1; l < 16; l++)
        if (v[l] > v[w] || (v[l] == v[w] && a[l] < a[w]))
            w = l;
    return a[w];
}

/* Panels j and j + PANEL: lanes 0-15 are centroids j..j+15, 16-31 are
 * j+16..j+23 of the first panel then j+24..j+31 of the second, 32-47 the
 * second panel's rest, so the three vectors cover j..j+47 in order. */
AVX512 static inline void two_panels(const float *const *xr, const float *col, int dim,
                                     __m512 acc[ROWS512][3])
{
    const float *next = col + (size_t)PANEL * dim;
    for (int d = 0; d < dim; d++, col += PANEL, next += PANEL) {
        __m512 b0 = _mm512_loadu_ps(col);
        __m512 b1 = _mm512_castpd_ps(_mm512_insertf64x4(
            _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(col + 16))),
            _mm256_castps_pd(_mm256_loadu_ps(next)), 1));
        __m512 b2 = _mm512_loadu_ps(next + 8);
        for (int r = 0; r < ROWS512; r++) {
            __m512 a = _mm512_set1_ps(xr[r][d]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
        }
    }
}

/* The last panel when their number is odd: 16 lanes and 8 (the second
 * vector's upper half, no centroid, is set to -inf by the caller). */
AVX512 static inline void one_panel(const float *const *xr, const float *col, int dim,
                                    __m512 acc[ROWS512][3])
{
    for (int d = 0; d < dim; d++, col += PANEL) {
        __m512 b0 = _mm512_loadu_ps(col);
        __m512 b1 = _mm512_maskz_loadu_ps(0x00FF, col + 16);
        for (int r = 0; r < ROWS512; r++) {
            __m512 a = _mm512_set1_ps(xr[r][d]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
}

AVX512 static void nearest_avx512(const float *x, int n, const float *layout, int k, int dim,
                                  int32_t *index)
{
    const size_t kp = padded_k(k);
    colpali_budget budget = {0};
    for (int i0 = 0; i0 < n; i0 += ROWS512) {
        const float *xr[ROWS512];
        for (int r = 0; r < ROWS512; r++)
            xr[r] = x + (size_t)(i0 + r < n ? i0 + r : n - 1) * dim;
        colpali_spend(&budget, (size_t)ROWS512 * kp * (size_t)dim);
        __m512 best[ROWS512];
        __m512i arg[ROWS512];
        for (int r = 0; r < ROWS512; r++) {
            best[r] = _mm512_set1_ps(-INFINITY);
            arg[r] = _mm512_setzero_si512();
        }
        for (size_t j = 0; j < kp; j += 2 * PANEL) {
            __m512 acc[ROWS512][3];
            for (int r = 0; r < ROWS512; r++)
                for (int v = 0; v < 3; v++)
                    acc[r][v] = _mm512_setzero_ps();
            if (j + PANEL < kp) {
                two_panels(xr, layout + j * dim, dim, acc);
                for (int r = 0; r < ROWS512; r++)
                    for (int v = 0; v < 3; v++)
                        keep_max16(&best[r], &arg[r], acc[r][v], (int)j + 16 * v);
            } else {
                one_panel(xr, layout + j * dim, dim, acc);
                for (int r = 0; r < ROWS512; r++) {
                    keep_max16(&best[r], &arg[r], acc[r][0], (int)j);
                    /* Lanes 8-15 of the second vector are no centroid. */
                    acc[r][1] = _mm512_mask_mov_ps(acc[r][1], 0xFF00, _mm512_set1_ps(-INFINITY));
                    keep_max16(&best[r], &arg[r], acc[r][1], (int)j + 16);
                }
            }
        }
        for (int r = 0; r < ROWS512 && i0 + r < n; r++) {
            int32_t a = lane_argmax16(best[r], arg[r]);
            index[i0 + r] = a < k ? a : k - 1;
        }
    }
}
#endif

void colpali_nearest(const float *x, int n, const float *layout, int k, int dim,
                     int32_t *index)
{
#if COLPALI_X86
    if (colpali_current_isa() == ISA_AVX512) {
        nearest_avx512(x, n, layout, k, dim, index);
        return;
    }
    if (colpali_current_isa() >= ISA_AVX2) {
        nearest_avx2(x, n, layout, k, dim, index);
        return;
    }
#endif
    nearest_scalar(x, n, layout, k, dim, index);
}
