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

/* Where element (r, i) of a bf16 A lies: row-major with row stride
 * colpali_bf16_stride(k), or, for the AMX kernels, tiled: rows in groups of
 * 16, each group k in blocks of 32 (one 16 x 64-byte tile, contiguous),
 * group after group. A group spans 16 row strides either way, so a chunk of
 * rows that starts at a multiple of 16 starts at row * stride in both. */
#define COLPALI_A_GROUP 16
#define COLPALI_A_BLOCK 32
static inline size_t colpali_a_index(int r, int i, int stride, int tiled)
{
    if (!tiled)
        return (size_t)r * stride + i;
    return ((size_t)(r / COLPALI_A_GROUP) * (stride / COLPALI_A_BLOCK) + i / COLPALI_A_BLOCK) * COLPALI_A_GROUP *
               COLPALI_A_BLOCK +
           (size_t)(r % COLPALI_A_GROUP) * COLPALI_A_BLOCK + i % COLPALI_A_BLOCK;
}

/* colpali_bf16_softmax_rows on AVX-512 (gemm_avx512bf16.c). */
void colpali_bf16_softmax_rows_avx512bf16(const float *scores, int ld, int cols, float scale, int row_begin,
                                          int row_end, uint16_t *out, float *inverse_sums, int tiled);

/* k-pairs per packed panel. */
static inline int colpali_packed_pairs(int k) { return colpali_bf16_stride(k) / 2; }

/* A 64-byte-aligned working buffer, or NULL when there is no memory (a
 * kernel then hands the product to the portable kernel). Free with free(). */
void *colpali_gemm_buffer(size_t bytes);

/* Kernels with bf16 A (row stride colpali_bf16_stride(k), zero-padded). */
void colpali_gemm_portable(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                           const float *bias, int panel_begin, int panel_end);
/* The portable kernel on tiled A, and its GeGLU form: the AMX kernels'
 * fallbacks. */
void colpali_gemm_portable_tiled(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                                 const float *bias, int panel_begin, int panel_end);
void colpali_gemm_portable_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                                 int panel_begin, int panel_end);
void colpali_gemm_amx_emulated_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                                     int panel_begin, int panel_end);
/* The GELU forms (colpali_bf16_gemm_gelu). */
void colpali_gemm_portable_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                                uint16_t *out, int panel_begin, int panel_end);
void colpali_gemm_amx_emulated_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                                    uint16_t *out, int panel_begin, int panel_end);
void colpali_gemm_amx_emulated(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                               const float *bias, int panel_begin, int panel_end);
/* The portable kernel with float A (row stride lda), unrounded. */
void colpali_gemm_portable_float(const float *a, int lda, int m, int k, const uint16_t *packed, int n, float *c,
                                 int ldc, const float *bias, int panel_begin, int panel_end);
#if COLPALI_MATH_X86
void colpali_gemm_avx512bf16(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                             const float *bias, int panel_begin, int panel_end);
void colpali_bf16_from_float_avx512bf16(const float *a, int lda, int k, int row_begin, int row_end, uint16_t *out,
                                        int tiled);
void colpali_gemm_amx(const uint16_t *a, int m, int k, const uint16_t *packed, int n, float *c, int ldc,
                      const float *bias, int panel_begin, int panel_end);
void colpali_gemm_amx_geglu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, uint16_t *out,
                            int panel_begin, int panel_end);
void colpali_gemm_amx_gelu(const uint16_t *a, int m, int k, const uint16_t *packed, int n, const float *bias,
                           uint16_t *out, int panel_begin, int panel_end);
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

/* C[r, col0 + j] = block[r * block_stride + j] (+ bias) for r < rows and
 * j < cols, columns past n left out: how the tile kernel writes a finished
 * stripe of columns. */
static inline void colpali_write_columns(const float *block, int block_stride, int rows, int col0, int cols, int n,
                                         float *c, int ldc, const float *bias)
{
    if (col0 + cols > n)
        cols = n - col0;
    for (int r = 0; r < rows; r++) {
        float *dst = c + (size_t)r * ldc + col0;
        for (int j = 0; j < cols; j++)
            dst[j] = block[(size_t)r * block_stride + j] + (bias ? bias[col0 + j] : 0.0f);
    }
}

#endif
