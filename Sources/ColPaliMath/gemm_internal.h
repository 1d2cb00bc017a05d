/*
 * gemm_internal.h: what the bf16 GEMM's kernels share: the packed weight
 * layout, bf16 rounding, and one entry point per instruction set. The
 * public interface and the choice of kernel are in gemm_bf16.c.
 *
 * Packed layout (every kernel reads the same panels): panel p covers output
 * columns [48p, 48p + 48); within it, k-pair q, column j, element e lies at
 * ((p * kpairs + q) * 48 + j) * 2 + e, with kpairs = colpali_bf16_stride(k) / 2
 * (a multiple of 16) and zeros beyond k and beyond n. So one k-pair row of a
 * panel is 48 (k, k+1) pairs, 192 bytes: three 64-byte rows of an AMX B tile,
 * or six 8-pair AVX2 vectors.
 */
#ifndef COLPALI_GEMM_INTERNAL_H
#define COLPALI_GEMM_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "colpali_math.h"

#define PANEL COLPALI_BF16_PANEL

#if defined(__x86_64__)
#define COLPALI_MATH_X86 1
#else
#define COLPALI_MATH_X86 0
#endif

static inline uint16_t colpali_round_to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu))
        return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static inline float colpali_bf16_to_float(uint16_t value)
{
    uint32_t bits = (uint32_t)value << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

/* k-pairs per packed panel. */
static inline int colpali_packed_pairs(int k) { return colpali_bf16_stride(k) / 2; }

/* A 64-byte-aligned working buffer, or NULL when there is no memory (a
 * kernel then hands the product to the portable kernel). Free with free(). */
void *colpali_gemm_buffer(size_t bytes);

/* Kernels with bf16 A (row stride colpali_bf16_stride(k), zero-padded). */
void colpali_gemm_portable(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                           const float *bias, int panel_begin, int panel_end);
void colpali_gemm_amx_emulated(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                               const float *bias, int panel_begin, int panel_end);
/* The portable kernel with float A (row stride lda), unrounded. */
void colpali_gemm_portable_float(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                                 int ldc, const float *bias, int panel_begin, int panel_end);
#if COLPALI_MATH_X86
void colpali_gemm_avx512bf16(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                             const float *bias, int panel_begin, int panel_end);
void colpali_bf16_from_float_avx512bf16(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out);
void colpali_gemm_amx(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                      const float *bias, int panel_begin, int panel_end);
void colpali_gemm_avx2(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                       const float *bias, int panel_begin, int panel_end);
/* 1 when the CPU has AMX-BF16 and Linux granted this process the tile
 * state (asked once). */
int colpali_amx_usable(void);
#endif

/* LDTILECFG's 64-byte operand (palette 1): bytes per row and rows of each
 * of the 8 tile registers. */
typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} colpali_tile_config;

_Static_assert(sizeof(colpali_tile_config) == 64, "LDTILECFG reads 64 bytes");

/* C[r, p*48 + j] = tile[r * 48 + j] (+ bias) for the rows and columns of
 * panel p that exist: how the tile kernels write a finished 32 x 48 block. */
static inline void colpali_write_block(const float *tile, int rows, int p, int n, float *c, int ldc,
                                       const float *bias)
{
    const int cols = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
    for (int r = 0; r < rows; r++) {
        float *dst = c + (size_t)r * ldc + (size_t)p * PANEL;
        for (int j = 0; j < cols; j++)
            dst[j] = tile[r * PANEL + j] + (bias ? bias[p * PANEL + j] : 0.0f);
    }
}

#endif
