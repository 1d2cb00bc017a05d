/*
 * Runtime choice of kernel: the best instruction set this CPU and OS support,
 * decided once. The extension and Swift binaries are built for baseline
 * x86-64, so the fast paths are compiled with target attributes and picked
 * here rather than by compiler flags.
 */
#include <math.h>
#include <string.h>

#include "kernels_internal.h"

#if COLPALI_X86
#include <cpuid.h>
#endif

static int chosen_isa = ISA_UNSET;
/* A test's choice, for its own thread only: tests that run in parallel (or
 * the model's worker threads) keep the machine's best kernel. */
static _Thread_local int forced_isa = ISA_UNSET;
static int has_vpopcntdq = -1;

static int cpu_best_isa(void)
{
#if COLPALI_X86
    __builtin_cpu_init();
    /* F16C (half <-> float, CPUID leaf 1, ECX bit 29) came with the first
     * AVX CPUs; both vector paths widen stored 16-bit pages with it. */
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 29)))
        return ISA_SCALAR;
    /* VL (AVX-512 on 256-bit registers) came with BW on every CPU that has
     * BW; the sign-plane widening uses it. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ISA_AVX2;
#endif
    return ISA_SCALAR;
}

int colpali_current_isa(void)
{
    if (forced_isa != ISA_UNSET)
        return forced_isa;
    /* A benign race: every thread computes and stores the same value. */
    if (chosen_isa == ISA_UNSET)
        chosen_isa = cpu_best_isa();
    return chosen_isa;
}

const char *colpali_kernel_isa(void)
{
    switch (colpali_current_isa()) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

int colpali_kernel_force_isa(const char *name)
{
    int wanted;
    if (strcmp(name, "auto") == 0) {
        forced_isa = ISA_UNSET;
        return 0;
    }
    if (strcmp(name, "avx512") == 0) wanted = ISA_AVX512;
    else if (strcmp(name, "avx2") == 0) wanted = ISA_AVX2;
    else if (strcmp(name, "scalar") == 0) wanted = ISA_SCALAR;
    else return -1;
    if (wanted > cpu_best_isa())
        return -1;
    forced_isa = wanted;
    return 0;
}

int colpali_maxsim_rowmax_update(const float *query, int nq, const float *doc, int nd,
                                 int dim, float *row_max)
{
    switch (colpali_current_isa()) {
#if COLPALI_X86
    case ISA_AVX512: return colpali_rowmax_avx512(query, nq, doc, nd, dim, row_max);
    case ISA_AVX2: return colpali_rowmax_avx2(query, nq, doc, nd, dim, row_max);
#endif
    default: return colpali_rowmax_scalar(query, nq, doc, nd, dim, row_max);
    }
}

void colpali_similarity(const float *query, int nq, const float *doc, int nd,
                        int dim, float *out)
{
#if COLPALI_X86
    /* AVX-512 CPUs run the AVX2 tile: this is not where a search spends its time. */
    if (colpali_current_isa() >= ISA_AVX2) {
        colpali_similarity_avx2(query, nq, doc, nd, dim, out);
        return;
    }
#endif
    colpali_similarity_scalar(query, nq, doc, nd, dim, out);
}

int colpali_maxsim_rowmax(const float *query, int nq, const float *doc, int nd,
                          int dim, float *row_max)
{
    for (int i = 0; i < nq; i++)
        row_max[i] = -INFINITY;
    return colpali_maxsim_rowmax_update(query, nq, doc, nd, dim, row_max);
}

static double sum_floats(const float *x, int n)
{
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += x[i];
    return total;
}

/* A score is a float: a sum beyond its range is reported, not returned as Inf. */
static int finish_score(double total, float *score)
{
    *score = (float)total;
    return isfinite(*score) ? COLPALI_OK : COLPALI_NONFINITE;
}

int colpali_maxsim_total(const float *row_max, int nq, float *score)
{
    return finish_score(sum_floats(row_max, nq), score);
}

int colpali_maxsim(const float *query, int nq, const float *doc, int nd, int dim,
                   float *score)
{
    /* Query rows in groups, so the row maxima live on the stack whatever nq is. */
    enum { GROUP = 64 };
    float row_max[GROUP];
    double total = 0.0;
    for (int i0 = 0; i0 < nq; i0 += GROUP) {
        int rows = nq - i0 < GROUP ? nq - i0 : GROUP;
        int status = colpali_maxsim_rowmax(query + (size_t)i0 * dim, rows, doc, nd,
                                           dim, row_max);
        if (status != COLPALI_OK)
            return status;
        total += sum_floats(row_max, rows);
    }
    return finish_score(total, score);
}

float colpali_maxsim_binary(const float *query, int nq, const uint8_t *doc_codes,
                            int nd, int dim, float *table)
{
#if COLPALI_X86
    if (colpali_current_isa() == ISA_AVX512)
        return colpali_maxsim_binary_avx512(query, nq, doc_codes, nd, dim, table);
#endif
    return colpali_maxsim_binary_scalar(query, nq, doc_codes, nd, dim, table);
}

float colpali_maxsim_hamming(const uint8_t *query_codes, int nq,
                             const uint8_t *doc_codes, int nd, int dim)
{
#if COLPALI_X86
    if (has_vpopcntdq < 0) {
        __builtin_cpu_init();
        has_vpopcntdq = __builtin_cpu_supports("avx512vpopcntdq");
    }
    if (dim == 128 && colpali_current_isa() == ISA_AVX512 && has_vpopcntdq)
        return colpali_maxsim_hamming16_avx512(query_codes, nq, doc_codes, nd);
    if (colpali_current_isa() != ISA_SCALAR)
        return colpali_maxsim_hamming_popcnt(query_codes, nq, doc_codes, nd, dim);
#endif
    return colpali_maxsim_hamming_portable(query_codes, nq, doc_codes, nd, dim);
}

ptrdiff_t colpali_find_nonfinite(const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return (ptrdiff_t)i;
    return -1;
}
