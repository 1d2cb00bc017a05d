/*
 * A C model of the AMX tile instructions the AMX kernel uses, after the
 * pseudocode in Intel's Architecture Instruction Set Extensions reference
 * (LDTILECFG, TILEZERO, TILELOADD, TILESTORED, TDPBF16PS, TILERELEASE), and
 * the AMX kernel's tiling (gemm_amx_tiles.inc) compiled on it: tests run the
 * kernel's tiling, layout and edge handling on machines without AMX.
 *
 * Shapes the hardware would refuse with #UD / #GP (a multiply whose tiles
 * do not fit together, a load wider than its tile, no configuration) abort
 * here, so a tiling mistake fails loudly in a test. Arithmetic is float32
 * in the order of the pseudocode; the hardware flushes denormals (DAZ/FTZ),
 * which the model does not.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gemm_internal.h"

typedef struct {
    int rows, colsb;
    uint8_t data[16][64];
} emulated_tile;

static _Thread_local emulated_tile tiles[8];
static _Thread_local int configured;

static void fault(const char *what)
{
    fprintf(stderr, "emulated AMX: %s\n", what);
    abort();
}

static void emu_configure(const colpali_tile_config *config)
{
    if (config->palette_id != 1)
        fault("palette must be 1");
    for (int t = 0; t < 8; t++) {
        if (config->rows[t] > 16 || config->colsb[t] > 64)
            fault("tile larger than 16 rows x 64 bytes");
        tiles[t].rows = config->rows[t];
        tiles[t].colsb = config->colsb[t];
        memset(tiles[t].data, 0, sizeof(tiles[t].data));
    }
    configured = 1;
}

static emulated_tile *tile(int t)
{
    if (!configured)
        fault("tile instruction before LDTILECFG");
    if (t < 0 || t > 7 || tiles[t].rows == 0)
        fault("tile not configured");
    return &tiles[t];
}

static void emu_load(int t, const void *base, size_t stride)
{
    emulated_tile *dst = tile(t);
    memset(dst->data, 0, sizeof(dst->data));
    for (int r = 0; r < dst->rows; r++)
        memcpy(dst->data[r], (const uint8_t *)base + r * stride, (size_t)dst->colsb);
}

static void emu_store(int t, void *base, size_t stride)
{
    const emulated_tile *src = tile(t);
    for (int r = 0; r < src->rows; r++)
        memcpy((uint8_t *)base + r * stride, src->data[r], (size_t)src->colsb);
}

static float bf16_at(const emulated_tile *t, int row, int index)
{
    uint16_t value;
    memcpy(&value, t->data[row] + 2 * index, 2);
    return colpali_bf16_to_float(value);
}

/* TDPBF16PS: dst.fp32[m][n] += sum over k-pairs of a.bf16[m][2k+e] * b.bf16[k][2n+e]. */
static void emu_dpbf16ps(int c, int a, int b)
{
    emulated_tile *dst = tile(c);
    const emulated_tile *ta = tile(a), *tb = tile(b);
    if (ta->colsb / 4 != tb->rows || dst->colsb != tb->colsb || dst->rows != ta->rows)
        fault("tdpbf16ps with tiles that do not fit together");
    for (int m = 0; m < dst->rows; m++) {
        float row[16];
        memcpy(row, dst->data[m], 64);
        for (int k = 0; k < ta->colsb / 4; k++)
            for (int n = 0; n < dst->colsb / 4; n++) {
                row[n] += bf16_at(ta, m, 2 * k) * bf16_at(tb, k, 2 * n);
                row[n] += bf16_at(ta, m, 2 * k + 1) * bf16_at(tb, k, 2 * n + 1);
            }
        memset(dst->data[m], 0, 64);
        memcpy(dst->data[m], row, (size_t)dst->colsb);
    }
}

static void emu_release(void)
{
    memset(tiles, 0, sizeof(tiles));
    configured = 0;
}

#define AMX_ATTR
#define AMX_KERNEL colpali_gemm_amx_emulated
#define TILE_CONFIGURE(config) emu_configure(config)
#define TILE_RELEASE() emu_release()
#define TILE_LOAD(t, base, stride) emu_load(t, base, stride)
#define TILE_STREAM_LOAD(t, base, stride) emu_load(t, base, stride) /* a hint only */
#define TILE_STORE(t, base, stride) emu_store(t, base, stride)
#define TILE_DP(c, a, b) emu_dpbf16ps(c, a, b)
#include "gemm_amx_tiles.inc"
