/*
 * Internal interface between the ISA-specific kernels and the dispatcher.
 * Each rowmax implementation raises row_max[0..nq) to the per-query-row
 * maximum dot product over the given document rows (never lowering an entry,
 * so a document can be scored in pieces) and returns COLPALI_OK or
 * COLPALI_NONFINITE.
 */
#ifndef COLPALI_KERNELS_INTERNAL_H
#define COLPALI_KERNELS_INTERNAL_H

#include "colpali_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define COLPALI_X86 1
#else
#define COLPALI_X86 0
#endif

/* The instruction set in use for the calling thread (dispatch.c). */
enum { ISA_UNSET = -1, ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
int colpali_current_isa(void);

int colpali_rowmax_scalar(const float *q, int nq, const float *d, int nd, int dim,
                          float *row_max);
void colpali_similarity_scalar(const float *query, int nq, const float *doc, int nd,
                               int dim, float *out);
float colpali_maxsim_binary_scalar(const float *q, int nq, const uint8_t *codes,
                                   int nd, int dim, float *table);
float colpali_maxsim_hamming_portable(const uint8_t *qc, int nq, const uint8_t *dc,
                                      int nd, int dim);
#if COLPALI_X86
int colpali_rowmax_avx2(const float *q, int nq, const float *d, int nd, int dim,
                        float *row_max);
void colpali_similarity_avx2(const float *query, int nq, const float *doc, int nd,
                             int dim, float *out);
int colpali_rowmax_avx512(const float *q, int nq, const float *d, int nd, int dim,
                          float *row_max);
float colpali_maxsim_binary_avx512(const float *q, int nq, const uint8_t *codes,
                                   int nd, int dim, float *table);
float colpali_maxsim_hamming16_avx512(const uint8_t *qc, int nq, const uint8_t *dc,
                                      int nd);
float colpali_maxsim_hamming_popcnt(const uint8_t *qc, int nq, const uint8_t *dc,
                                    int nd, int dim);
void colpali_half_to_float_f16c(const unsigned char *in, size_t n, float *out);
#endif

/* colpali_half_to_float over n halves at any byte alignment (a TOAST chunk
 * may start at an odd address). */
void colpali_half_bytes_to_float(const unsigned char *in, size_t n, float *out);

/*
 * Work done since the last pause, per kernel call. colpali_spend is called
 * with the multiply-adds of each step; without a pause function (Swift) it
 * is one predictable branch.
 */
extern _Thread_local colpali_pause_fn colpali_pause_hook;

typedef struct {
    size_t work;
} colpali_budget;

static inline void colpali_spend(colpali_budget *budget, size_t work)
{
    if (colpali_pause_hook == NULL)
        return;
    budget->work += work;
    if (budget->work >= COLPALI_PAUSE_WORK) {
        budget->work = 0;
        colpali_pause_hook();
    }
}

/*
 * Document rows processed per pass of the query block: about 16 KiB of
 * document, so the block and the query rows both sit in L1 while every query
 * row is scored against it. The document is read from memory exactly once.
 */
static inline int colpali_doc_chunk_rows(int dim)
{
    size_t rows = 16384 / ((size_t)dim * sizeof(float));
    return rows < 4 ? 4 : (int)rows;
}

/*
 * Streams the next document chunk into cache while the current one is scored,
 * a few lines per tile, so memory traffic overlaps the arithmetic instead of
 * stalling at the start of every chunk.
 */
typedef struct {
    const char *next;
    const char *end;
    int lines_per_step;
} colpali_prefetcher;

static inline colpali_prefetcher colpali_prefetch_plan(const float *d, int from, int nd,
                                                       int rows, int dim, int steps)
{
    int to = from + rows < nd ? from + rows : nd;
    colpali_prefetcher p;
    p.next = (const char *)(d + (size_t)from * dim);
    p.end = to > from ? (const char *)(d + (size_t)to * dim) : p.next;
    size_t lines = (size_t)(p.end - p.next) / 64 + 1;
    p.lines_per_step = (int)(lines / (size_t)(steps > 0 ? steps : 1)) + 1;
    return p;
}

static inline void colpali_prefetch_step(colpali_prefetcher *p)
{
    for (int t = 0; t < p->lines_per_step && p->next < p->end; t++, p->next += 64)
        __builtin_prefetch(p->next, 0, 3);
}

#endif
