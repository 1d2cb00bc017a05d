/*
 * Sign-bit codes and the two binary prefilter scores: symmetric (Hamming on
 * both sides) and asymmetric (float query against +-1 document bits).
 * Bit order: element 8b + t of a row is bit (7 - t) of byte b, as pgvector's
 * `bit` type stores it.
 */
#include <math.h>
#include <string.h>

#include "kernels_internal.h"

void colpali_binary_quantize(const float *x, int rows, int dim, uint8_t *codes)
{
    const size_t nbytes = colpali_code_bytes(dim);
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * dim;
        uint8_t *out = codes + (size_t)r * nbytes;
        memset(out, 0, nbytes);
        for (int k = 0; k < dim; k++)
            if (row[k] > 0.0f)
                out[k >> 3] |= (uint8_t)(0x80u >> (k & 7));
    }
}

/* Hamming distance of two codes of nbytes bytes. Inlined into each caller so
 * the popcount compiles to the instruction where the caller's target has it. */
static inline __attribute__((always_inline)) int hamming(const uint8_t *a,
                                                         const uint8_t *b,
                                                         size_t nbytes)
{
    int distance = 0;
    size_t k = 0;
    for (; k + 8 <= nbytes; k += 8) {
        uint64_t x, y;
        memcpy(&x, a + k, 8);
        memcpy(&y, b + k, 8);
        distance += __builtin_popcountll(x ^ y);
    }
    for (; k < nbytes; k++)
        distance += __builtin_popcount((unsigned)(a[k] ^ b[k]));
    return distance;
}

ptrdiff_t colpali_codes_bad_padding(const uint8_t *codes, size_t rows, int dim)
{
    const size_t nbytes = colpali_code_bytes(dim);
    const unsigned used = (unsigned)dim & 7u; /* bits used in the last byte; 0: all 8 */
    if (used == 0)
        return -1;
    const uint8_t padding = (uint8_t)(0xFFu >> used);
    for (size_t r = 0; r < rows; r++)
        if (codes[r * nbytes + nbytes - 1] & padding)
            return (ptrdiff_t)r;
    return -1;
}

static inline __attribute__((always_inline)) float
hamming_maxsim(const uint8_t *qc, int nq, const uint8_t *dc, int nd, int dim)
{
    const size_t nbytes = colpali_code_bytes(dim);
    colpali_budget budget = {0};
    double total = 0.0;
    for (int i = 0; i < nq; i++) {
        const uint8_t *qi = qc + (size_t)i * nbytes;
        /* No distance exceeds the bits compared; dim + 1 in 64 bits cannot overflow. */
        int64_t best = (int64_t)dim + 1;
        for (int j = 0; j < nd && best > 0; j++) {
            if ((j & 255) == 0)
                colpali_spend(&budget, 256 * nbytes);
            int h = hamming(qi, dc + (size_t)j * nbytes, nbytes);
            if (h < best)
                best = h;
        }
        /* <s, t> = dim - 2 * hamming(s, t) for +-1 vectors. */
        total += (double)dim - 2.0 * (double)best;
    }
    return (float)total;
}

float colpali_maxsim_hamming_portable(const uint8_t *qc, int nq, const uint8_t *dc,
                                      int nd, int dim)
{
    return hamming_maxsim(qc, nq, dc, nd, dim);
}

#if COLPALI_X86
__attribute__((target("popcnt"))) float
colpali_maxsim_hamming_popcnt(const uint8_t *qc, int nq, const uint8_t *dc, int nd,
                              int dim)
{
    return hamming_maxsim(qc, nq, dc, nd, dim);
}
#endif

/*
 * Portable asymmetric score. Per query row, a table per code byte (in the
 * caller's `table`) gives the sum of the query values under each of the 256
 * bit patterns, so a document row costs one lookup per byte; without a
 * table, bits are tested one at a time.
 */
float colpali_maxsim_binary_scalar(const float *q, int nq, const uint8_t *codes,
                                   int nd, int dim, float *table)
{
    const size_t nbytes = colpali_code_bytes(dim);
    colpali_budget budget = {0};
    double total = 0.0;
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * dim;
        double row_sum = 0.0;
        for (int k = 0; k < dim; k++)
            row_sum += qi[k];
        float best = -INFINITY;
        if (table) {
            for (size_t b = 0; b < nbytes; b++) {
                float *t = table + b * 256;
                t[0] = 0.0f;
                /* t[v] = t[v without its lowest set bit] + value of that bit. */
                for (unsigned v = 1; v < 256; v++) {
                    unsigned low = v & (0u - v);
                    int bit = __builtin_ctz(low); /* bit 7 - t is element t */
                    size_t k = b * 8 + (size_t)(7 - bit);
                    t[v] = t[v ^ low] + (k < (size_t)dim ? qi[k] : 0.0f);
                }
            }
            for (int j = 0; j < nd; j++) {
                colpali_spend(&budget, nbytes);
                const uint8_t *dj = codes + (size_t)j * nbytes;
                float set_sum = 0.0f;
                for (size_t b = 0; b < nbytes; b++)
                    set_sum += table[b * 256 + dj[b]];
                if (set_sum > best)
                    best = set_sum;
            }
        } else {
            for (int j = 0; j < nd; j++) {
                colpali_spend(&budget, (size_t)dim);
                const uint8_t *dj = codes + (size_t)j * nbytes;
                float set_sum = 0.0f;
                for (int k = 0; k < dim; k++)
                    if (dj[k >> 3] & (0x80u >> (k & 7)))
                        set_sum += qi[k];
                if (set_sum > best)
                    best = set_sum;
            }
        }
        /* <q, s> = 2 * (sum over set bits) - sum(q); the max commutes with it. */
        total += 2.0 * (double)best - row_sum;
    }
    return (float)total;
}
