/*
 * Elementwise kernels, compiled three times (AVX-512, AVX2+FMA, baseline)
 * from elementwise_kernels.h and dispatched once per process.
 */
#include <math.h>
#include <string.h>

#include "colpali_kernels.h"
#include "colpali_math.h"

#if defined(__x86_64__)
#define KERNEL_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define KERNEL_NAME(name) name##_avx512
#include "elementwise_kernels.h"
#undef KERNEL_ATTR
#undef KERNEL_NAME

#define KERNEL_ATTR __attribute__((target("avx2,fma")))
#define KERNEL_NAME(name) name##_avx2
#include "elementwise_kernels.h"
#undef KERNEL_ATTR
#undef KERNEL_NAME
#endif

#define KERNEL_ATTR
#define KERNEL_NAME(name) name##_base
#include "elementwise_kernels.h"
#undef KERNEL_ATTR
#undef KERNEL_NAME

enum { LEVEL_BASE = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };

/*
 * The instruction set the scoring kernels chose: one decision per process for
 * all C code (a test may force another for its own thread with
 * colpali_kernel_force_isa). Every
 * CPU with AVX-512 F and BW, which "avx512" requires, also has VL and DQ.
 */
static int level(void)
{
    const char *isa = colpali_kernel_isa();
    if (strcmp(isa, "avx512") == 0)
        return LEVEL_AVX512;
    if (strcmp(isa, "avx2") == 0)
        return LEVEL_AVX2;
    return LEVEL_BASE;
}

#if defined(__x86_64__)
#define DISPATCH(name, ...)                                                                                        \
    do {                                                                                                           \
        switch (level()) {                                                                                         \
        case LEVEL_AVX512: name##_avx512(__VA_ARGS__); return;                                                     \
        case LEVEL_AVX2: name##_avx2(__VA_ARGS__); return;                                                         \
        default: name##_base(__VA_ARGS__); return;                                                                 \
        }                                                                                                          \
    } while (0)
#else
#define DISPATCH(name, ...) do { name##_base(__VA_ARGS__); return; } while (0)
#endif

void colpali_layer_norm(const float *x, float *out, int dim, const float *weight, const float *bias, float eps,
                        int row_begin, int row_end)
{
    DISPATCH(layer_norm, x, out, dim, weight, bias, eps, row_begin, row_end);
}

void colpali_rms_norm(const float *x, float *out, int dim, const float *weight, float eps, int row_begin, int row_end)
{
    DISPATCH(rms_norm, x, out, dim, weight, eps, row_begin, row_end);
}

void colpali_gelu_tanh(float *x, size_t begin, size_t end) { DISPATCH(gelu_tanh, x, begin, end); }

void colpali_geglu(float *gate, const float *up, size_t begin, size_t end) { DISPATCH(geglu, gate, up, begin, end); }

void colpali_add(float *y, const float *x, size_t begin, size_t end) { DISPATCH(add, y, x, begin, end); }

void colpali_softmax_rows(float *x, int ld, int cols, float scale, int row_begin, int row_end)
{
    DISPATCH(softmax_rows, x, ld, cols, scale, row_begin, row_end);
}

void colpali_l2_normalize_rows(float *x, int dim, int row_begin, int row_end)
{
    DISPATCH(l2_normalize_rows, x, dim, row_begin, row_end);
}

/* Exact GELU for SigLIP configurations that ask for it: rare, so libm's erff. */
void colpali_gelu_erf(float *x, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* The tables depend only on positions: built once per forward pass, applied in every layer. */
void colpali_rope(float *x, int ld, int heads, int head_dim, const float *cosines, const float *sines,
                  int row_begin, int row_end)
{
    const int half = head_dim / 2;
    for (int r = row_begin; r < row_end; r++) {
        const float *c = cosines + (size_t)r * half, *s = sines + (size_t)r * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + (size_t)r * ld + (size_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                const float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c[i] - x2 * s[i];
                v[i + half] = x2 * c[i] + x1 * s[i];
            }
        }
    }
}
