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
 * same code is safe inside a Postgres backend and in a Swift process. Sizes
 * are computed in size_t; callers check shapes with colpali_check_shape
 * first, and nothing beyond COLPALI_MAX_ROWS x COLPALI_MAX_DIM is scored.
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

/*
 * The largest multi-vector accepted anywhere: a ColPali page is 1,030 x 128,
 * a query a few dozen rows. rows * dim * 4 bytes then stays below 4 GiB and
 * every product of two sizes fits comfortably in size_t.
 */
#define COLPALI_MAX_ROWS 65536
#define COLPALI_MAX_DIM 16384

/* What colpali_check_shape found. */
enum {
    COLPALI_SHAPE_OK = 0,
    COLPALI_SHAPE_EMPTY = 1,     /* rows or dim below 1 */
    COLPALI_SHAPE_TOO_MANY_ROWS = 2,
    COLPALI_SHAPE_TOO_WIDE = 3   /* dim above COLPALI_MAX_DIM */
};

/* Whether rows x dim is a multi-vector the kernels accept. 64-bit arguments,
 * so a caller can pass sizes read from untrusted headers unconverted. */
int colpali_check_shape(int64_t rows, int64_t dim);

/*
 * Long kernel calls are cut into pieces of about COLPALI_PAUSE_WORK
 * multiply-adds (or byte comparisons) and call `pause` between them, when one
 * is set. The extension sets a function that checks for query cancellation
 * (it may not return: a longjmp out of a kernel is safe, nothing is held);
 * Swift sets none. It is the setting thread's own: other threads (the
 * extension's index-build helpers) run the kernels without one.
 */
#define COLPALI_PAUSE_WORK ((size_t)1 << 24)
typedef void (*colpali_pause_fn)(void);
void colpali_set_pause(colpali_pause_fn pause);

/* Which instruction set the dispatcher picked: "avx512", "avx2" or "scalar". */
const char *colpali_kernel_isa(void);

/* Force a kernel ("avx512", "avx2", "scalar") for the calling thread only,
 * for tests and benchmarks; "auto" returns it to the machine's best.
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

/* Nearest centroid by dot product. The centroids (k rows of dim) are first
 * laid out for the kernel: colpali_nearest_layout_floats(k, dim) floats,
 * filled by colpali_nearest_layout. colpali_nearest then gives, for each of
 * the n rows of x, the index of the centroid with the largest dot product,
 * the lowest index on ties. NaN products never win: check inputs for
 * finiteness first. Requires n >= 1, k >= 1, dim >= 1. */
size_t colpali_nearest_layout_floats(int k, int dim);
void colpali_nearest_layout(const float *centroids, int k, int dim, float *layout);
void colpali_nearest(const float *x, int n, const float *layout, int k, int dim,
                     int32_t *index);

/* Index of the first NaN or infinite value in x[0..count), or -1. */
ptrdiff_t colpali_find_nonfinite(const float *x, size_t count);

/* Bytes of binary code per row: ceil(dim / 8). */
static inline size_t colpali_code_bytes(int dim) { return ((size_t)dim + 7) / 8; }

/* The first of `rows` code rows with a padding bit set (bits past `dim` in
 * the last byte of a row, which colpali_binary_quantize leaves zero), or -1.
 * Such codes did not come from dim-wide vectors: their scores would be wrong. */
ptrdiff_t colpali_codes_bad_padding(const uint8_t *codes, size_t rows, int dim);

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
                            int nd, int dim, float *table);

/* Floats of the `table` argument of colpali_maxsim_binary for this dim: one
 * 256-entry lookup table per code byte. With table NULL the portable kernel
 * tests bits one at a time instead (the kernels never allocate). */
static inline size_t colpali_binary_table_floats(int dim) { return colpali_code_bytes(dim) * 256; }

/*
 * MaxSim against a document that arrives as bytes in pieces of any length
 * (the extension feeds it TOAST chunks): the float payload of a rows x dim
 * document, row after row. Pieces are copied into a caller-owned staging
 * buffer of whole rows, scored whenever it fills. The caller owns every
 * buffer; nothing is allocated.
 */
typedef struct {
    const float *query;
    int nq;
    int dim;
    float *row_max;        /* nq entries, the running maxima */
    float *staging;        /* staging_rows * dim floats */
    int half;              /* the payload is IEEE half precision */
    int has_carry;         /* a half's first byte waits in carry */
    unsigned char carry;
    int staging_rows;
    size_t staged_bytes;   /* bytes in staging, possibly a partial float */
    int64_t rows_scored;
    int status;            /* COLPALI_OK, COLPALI_NONFINITE once seen, or
                            * -1 once more rows came than codes */
    /* Sign planes (colpali_stream_begin_planes): the codes arrive first and
     * are kept whole; magnitudes are widened as they arrive. */
    int planes;
    uint8_t *codes;        /* rows x colpali_code_bytes(dim) */
    size_t codes_bytes;
    size_t codes_have;
    uint8_t *magnitudes;   /* a row split between pieces: colpali_planes_magnitude_bytes(dim) */
    size_t magnitudes_have;
    /* Counted rather than divided out of byte counts on every piece: a
     * TOAST chunk brings about 8 rows, so per-piece work shows. */
    size_t code_row_bytes;
    size_t magnitude_row_bytes;
    int64_t code_rows;     /* rows the codes are for */
    int staged_rows;       /* whole widened rows in staging */
} colpali_stream;

/* Rows of staging for this dim: about 32 KiB, at least one row. */
int colpali_stream_staging_rows(int dim);

/* Starts scoring `query` (nq x dim) against a new document. */
void colpali_stream_begin(colpali_stream *s, const float *query, int nq, int dim,
                          float *row_max, float *staging, int staging_rows);

/* The same for a document of IEEE half-precision values (a stored 16-bit
 * page): each piece is widened straight into `staging` as it arrives. */
void colpali_stream_begin_half(colpali_stream *s, const float *query, int nq, int dim,
                               float *row_max, float *staging, int staging_rows);

/* The same for a page of `rows` rows in sign planes (the codes, then the
 * magnitudes; colpali_planes_*), with a buffer for its codes
 * (rows x colpali_code_bytes(dim)) and one for a row of magnitudes
 * (colpali_planes_magnitude_bytes(dim)). */
void colpali_stream_begin_planes(colpali_stream *s, const float *query, int nq, int dim,
                                 int64_t rows, float *row_max, float *staging, int staging_rows,
                                 uint8_t *codes, uint8_t *magnitudes);

/* Consumes `length` more payload bytes. Returns the stream's status
 * (COLPALI_NONFINITE sticks: the caller may stop feeding). */
int colpali_stream_feed(colpali_stream *s, const void *bytes, size_t length);

/* Scores what is staged. COLPALI_OK and the score when exactly
 * `expected_rows` whole rows arrived and every product was finite;
 * otherwise COLPALI_NONFINITE, or -1 when the payload did not hold exactly
 * expected_rows rows (a truncated or over-long value). */
int colpali_stream_finish(colpali_stream *s, int64_t expected_rows, float *score);

/*
 * IEEE 754 half precision (binary16), the format of stored 16-bit pages.
 * Widening is exact; narrowing rounds to nearest, ties to even.
 */
void colpali_half_to_float(const uint16_t *in, size_t n, float *out);

/* Narrows n floats into out. Returns -1, or the index of the first value
 * that is NaN, infinite or beyond the half range (|x| rounds above 65504);
 * the halves before it are written. */
ptrdiff_t colpali_float_to_half(const float *in, size_t n, uint16_t *out);

/* Index of the first NaN or infinite half in x[0..count), or -1. */
ptrdiff_t colpali_find_nonfinite_half(const uint16_t *x, size_t count);

/* colpali_binary_quantize over halves: the same codes the widened values
 * would give. */
void colpali_binary_quantize_half(const uint16_t *x, int rows, int dim, uint8_t *codes);

/*
 * Sign planes, the layout of a stored 16-bit page that keeps its sign-bit
 * codes once (sign_planes.c): rows x colpali_code_bytes(dim) bytes of codes,
 * exactly colpali_binary_quantize_half's, then rows x
 * colpali_planes_magnitude_bytes(dim) bytes of 15-bit magnitudes. The same
 * size as the halves alone wherever dim is a multiple of 16.
 */
static inline size_t colpali_planes_magnitude_bytes(int dim)
{
    return (size_t)dim / 16 * 30 + (size_t)dim % 16 * 2;
}

/* Bytes of a rows x dim page in sign planes, codes included. */
size_t colpali_planes_bytes(int64_t rows, int dim);

/* Finite halves (rows x dim) into sign planes of colpali_planes_bytes. */
void colpali_planes_pack(const uint16_t *halves, int rows, int dim, uint8_t *out);

/* Sign planes back into rows x dim halves (a -0 comes back as +0). */
void colpali_planes_unpack(const uint8_t *planes, int rows, int dim, uint16_t *out);

/* `rows` rows widened to floats, their codes and magnitudes each starting at
 * the rows' first: how the stream and the scans read sign planes. */
void colpali_planes_rows_to_float(const uint8_t *codes, const uint8_t *magnitudes, int rows,
                                  int dim, float *out);

#ifdef __cplusplus
}
#endif

#endif /* COLPALI_KERNELS_H */
