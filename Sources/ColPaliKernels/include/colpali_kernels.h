/*
 * colpali_kernels.h: the scoring kernels shared by the Postgres extension
 * (sql/, compiled into colpali.so) and by the Swift packages (the
 * ColPaliKernels C target). One implementation, two callers.
 *
 * Multi-vectors are row-major float32 matrices: `rows` vectors of `dim`
 * floats each. Binary codes are the sign bits of every value (1 when x > 0),
 * rows packed one after another, each row padded to whole bytes, most
 * significant bit first within a byte (the bit order of pgvector's `bit`).
 *
 * Nothing here allocates or reports errors through a host runtime, so the
 * same code is safe inside a Postgres backend and in a Swift process.
 */
#ifndef COLPALI_KERNELS_H
#define COLPALI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by the scoring kernels. */
enum {
    COLPALI_OK = 0,
    /* A dot product came out NaN or infinite: an input held NaN/Inf, or the
     * values are so large that the products overflow. Callers that must name
     * the culprit re-scan with colpali_find_nonfinite() on this rare path. */
    COLPALI_NONFINITE = 1
};

/* Which instruction set the dispatcher picked: "avx512", "avx2" or "scalar". */
const char *colpali_kernel_isa(void);

/* Force a kernel ("avx512", "avx2", "scalar"), for tests and benchmarks.
 * Returns 0 on success, -1 when the CPU lacks it or the name is unknown. */
int colpali_kernel_force_isa(const char *name);

/*
 * Late-interaction score: sum over query rows of the maximum dot product with
 * any document row. Requires nq >= 1, nd >= 1, dim >= 1. The query block stays
 * in L1 while the document streams through once.
 */
int colpali_maxsim(const float *query, int nq, const float *doc, int nd, int dim,
                   float *score);

/* Per query row, the maximum dot product with any document row (row_max has
 * nq entries). colpali_maxsim is the sum of these. */
int colpali_maxsim_rowmax(const float *query, int nq, const float *doc, int nd,
                          int dim, float *row_max);

/* The same over a document that arrives in pieces: raises each row_max[i]
 * to the maximum over these rows, keeping larger values already there.
 * Start with every entry at -INFINITY; after the last piece, row_max holds
 * what colpali_maxsim_rowmax returns for the whole document. */
int colpali_maxsim_rowmax_update(const float *query, int nq, const float *doc, int nd,
                                 int dim, float *row_max);

/* The score from per-row maxima: their sum, accumulated in double. Returns
 * COLPALI_NONFINITE when it is not a finite float. */
int colpali_maxsim_total(const float *row_max, int nq, float *score);

/* Full similarity matrix: out[i * nd + j] = <query_i, doc_j>. Used for
 * similarity maps, where every patch score is wanted, not only the maximum. */
void colpali_similarity(const float *query, int nq, const float *doc, int nd,
                        int dim, float *out);

/* Index of the first NaN or infinite value in x[0..count), or -1. */
ptrdiff_t colpali_find_nonfinite(const float *x, size_t count);

/* Bytes of binary code per row: ceil(dim / 8). */
static inline size_t colpali_code_bytes(int dim) { return ((size_t)dim + 7) / 8; }

/* Sign-bit codes of rows x dim values into rows * colpali_code_bytes(dim)
 * bytes. Padding bits at the end of a row are zero. */
void colpali_binary_quantize(const float *x, int rows, int dim, uint8_t *codes);

/*
 * Symmetric binary MaxSim: codes on both sides. For +-1 vectors the dot
 * product is dim - 2 * hamming, so the score is the sum over query rows of
 * (dim - 2 * min_j hamming(q_i, d_j)): MaxSim over the sign vectors.
 */
float colpali_maxsim_hamming(const uint8_t *query_codes, int nq,
                             const uint8_t *doc_codes, int nd, int dim);

/*
 * Asymmetric binary MaxSim: a float query against +-1 document bits.
 * <q, s> with s_k = +1 when the bit is set, -1 otherwise, equals
 * 2 * (sum of q_k over set bits) - sum(q). Sum over query rows of the maximum
 * over document rows.
 */
float colpali_maxsim_binary(const float *query, int nq, const uint8_t *doc_codes,
                            int nd, int dim);

#ifdef __cplusplus
}
#endif

#endif /* COLPALI_KERNELS_H */
