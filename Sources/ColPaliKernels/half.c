/*
 * IEEE 754 half precision (binary16) for stored pages. A ColPali page in
 * fp16 is half the bytes of fp32, and its MaxSim scores differ from fp32 by
 * about 1e-4 relative (bench/half_precision_error.py; bf16 is ~8x worse, so
 * fp16 it is). Pages are widened block by block into a cache-resident
 * staging buffer and scored by the float kernels, never as a whole page.
 *
 * half -> float is exact, so the scalar and F16C paths agree bit for bit.
 * Every CPU with AVX2 or AVX-512 has F16C (dispatch.c checks it), and
 * widening is not the bottleneck: one F16C path serves both. float -> half rounds to nearest, ties to even, in portable
 * integer code: it runs once per value at ingest, not per search.
 */
#include <string.h>

#include "kernels_internal.h"

#if COLPALI_X86
#include <immintrin.h>
#endif

static float half_bits_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);      /* Inf, NaN */
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;                                      /* +-0 */
    } else {
        /* Subnormal: mantissa * 2^-24, normalised for float. */
        int shift = 0;
        while ((mantissa & 0x400) == 0) {
            mantissa <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round `value` >> shift to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t value, int shift)
{
    uint32_t kept = value >> shift;
    uint32_t rest = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (kept & 1)))
        kept++;
    return kept;
}

/* The binary16 nearest to f; *ok = 0 when f is NaN or infinite or its
 * magnitude rounds beyond 65504 (the largest half). */
static uint16_t float_to_half_bits(float f, int *ok)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t magnitude = x & 0x7FFFFFFF;
    *ok = 1;
    if (magnitude >= 0x477FF000) {          /* >= 65520: Inf after rounding, or NaN/Inf */
        *ok = 0;
        return (uint16_t)(sign | (magnitude > 0x7F800000 ? 0x7E00 : 0x7C00));
    }
    if (magnitude >= 0x38800000)            /* >= 2^-14: a normal half; a carry
                                             * out of the mantissa bumps the exponent */
        return (uint16_t)(sign | shift_round_even(magnitude - 0x38000000, 13));
    /* A half subnormal (units of 2^-24), or zero. */
    uint32_t exponent = magnitude >> 23;
    if (exponent < 102)                     /* below 2^-25: rounds to zero */
        return sign;
    uint32_t mantissa = (magnitude & 0x7FFFFF) | 0x800000;
    return (uint16_t)(sign | shift_round_even(mantissa, (int)(126 - exponent)));
}

/* The half at byte offset 2 * i, whatever the alignment. */
static uint16_t load_half(const unsigned char *in, size_t i)
{
    uint16_t h;
    memcpy(&h, in + 2 * i, sizeof h);
    return h;
}

static void half_to_float_scalar(const unsigned char *in, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = half_bits_to_float(load_half(in, i));
}

#if COLPALI_X86
__attribute__((target("avx2,f16c")))
void colpali_half_to_float_f16c(const unsigned char *in, size_t n, float *out)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + 2 * i))));
    for (; i < n; i++)
        out[i] = half_bits_to_float(load_half(in, i));
}
#endif

void colpali_half_to_float(const uint16_t *in, size_t n, float *out)
{
    colpali_half_bytes_to_float((const unsigned char *)in, n, out);
}

void colpali_half_bytes_to_float(const unsigned char *in, size_t n, float *out)
{
    switch (colpali_current_isa()) {
#if COLPALI_X86
    case ISA_AVX512:
    case ISA_AVX2: colpali_half_to_float_f16c(in, n, out); return;
#endif
    default: half_to_float_scalar(in, n, out); return;
    }
}

ptrdiff_t colpali_float_to_half(const float *in, size_t n, uint16_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int ok;
        out[i] = float_to_half_bits(in[i], &ok);
        if (!ok)
            return (ptrdiff_t)i;
    }
    return -1;
}

ptrdiff_t colpali_find_nonfinite_half(const uint16_t *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if ((x[i] & 0x7C00) == 0x7C00)
            return (ptrdiff_t)i;
    return -1;
}

void colpali_binary_quantize_half(const uint16_t *x, int rows, int dim, uint8_t *codes)
{
    const size_t row_bytes = colpali_code_bytes(dim);
    memset(codes, 0, (size_t)rows * row_bytes);
    for (size_t r = 0; r < (size_t)rows; r++) {
        const uint16_t *row = x + r * (size_t)dim;
        uint8_t *code = codes + r * row_bytes;
        for (int k = 0; k < dim; k++)
            /* x > 0: sign clear and not zero (NaN never gets stored). */
            if ((row[k] & 0x8000) == 0 && (row[k] & 0x7FFF) != 0)
                code[k >> 3] |= (uint8_t)(0x80u >> (k & 7));
    }
}
