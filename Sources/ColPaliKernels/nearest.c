/*
 * Nearest centroid by dot product: for each row of x, the index of the
 * centroid with the largest <x_i, c_j> (the first on ties). The candidate
 * index assigns every token of every page with it, so it is a kernel of its
 * own: the AVX2 path reuses the MaxSim tile, x rows against centroid rows.
 * AVX-512 CPUs take the AVX2 path (the tile is not what limits it).
 */
#include "kernels_internal.h"

#include <math.h>

static void nearest_scalar(const float *x, int n, const float *c, int k, int dim,
                           int32_t *index)
{
    colpali_budget budget = {0};
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float best = -INFINITY;
        int32_t arg = 0;
        colpali_spend(&budget, (size_t)k * (size_t)dim);
        for (int j = 0; j < k; j++) {
            const float *cj = c + (size_t)j * dim;
            float s = 0;
            for (int d = 0; d < dim; d++)
                s += xi[d] * cj[d];
            if (s > best) {
                best = s;
                arg = j;
            }
        }
        index[i] = arg;
    }
}

#if COLPALI_X86
#include "avx2_tile.h"

AVX2 static void nearest_avx2(const float *x, int n, const float *c, int k, int dim,
                              int32_t *index)
{
    colpali_budget budget = {0};
    for (int i0 = 0; i0 < n; i0 += 2) {
        const float *xr[2];
        for (int r = 0; r < 2; r++)
            xr[r] = x + (size_t)(i0 + r < n ? i0 + r : n - 1) * dim;
        colpali_spend(&budget, (size_t)2 * (size_t)k * (size_t)dim);
        float best[2] = {-INFINITY, -INFINITY};
        int32_t arg[2] = {0, 0};
        for (int j = 0; j < k; j += 4) {
            const float *cr[4];
            for (int t = 0; t < 4; t++)
                cr[t] = c + (size_t)(j + t < k ? j + t : k - 1) * dim;
            float lanes[8];
            _mm256_storeu_ps(lanes, tile_dots(xr, cr, dim));
            /* Lane r * 4 + t is <x_{i0+r}, c_{j+t}>; the clamped tail repeats
             * c_{k-1}, which a strict > never prefers to itself. */
            for (int r = 0; r < 2; r++)
                for (int t = 0; t < 4; t++)
                    if (lanes[r * 4 + t] > best[r]) {
                        best[r] = lanes[r * 4 + t];
                        arg[r] = j + t < k ? j + t : k - 1;
                    }
        }
        for (int r = 0; r < 2 && i0 + r < n; r++)
            index[i0 + r] = arg[r];
    }
}
#endif

void colpali_nearest(const float *x, int n, const float *centroids, int k, int dim,
                     int32_t *index)
{
#if COLPALI_X86
    if (colpali_current_isa() >= ISA_AVX2) {
        nearest_avx2(x, n, centroids, k, dim, index);
        return;
    }
#endif
    nearest_scalar(x, n, centroids, k, dim, index);
}
