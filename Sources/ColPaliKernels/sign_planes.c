/*
 * Sign planes: how a stored 16-bit page keeps its sign-bit codes once.
 *
 * The binary prefilter reads a page's sign-bit codes (a bit per value, set
 * where the value is > 0), and each half's own sign bit is nearly that bit.
 * Kept in a column of their own beside the halves, the codes cost 16 KB a
 * ColPali page on top of 264 KB: bits already stored, and what put storage
 * over 0.28 GB per 1,000 pages. Here the codes come first, where a prefilter
 * reads them as a slice of the value (its first few TOAST chunks), and every
 * value keeps only its other 15 bits:
 *
 *   codes       rows x colpali_code_bytes(dim): colpali_binary_quantize_half's
 *   magnitudes  rows x colpali_planes_magnitude_bytes(dim)
 *
 * A row's magnitudes go 16 values to 15 little-endian words: word i holds
 * value i's magnitude in its low 15 bits, and the words' top bits (word i's
 * at bit i) make value 15's. A row's last dim % 16 values (none at dim 128)
 * take a word each. A 1,030 x 128 page is as many bytes as its halves alone.
 *
 * The sign comes back from the code: set, positive; clear, negative unless
 * the magnitude is zero. A stored -0 reads back as +0, the one value that
 * changes (its products are zero either way).
 */
#include <string.h>

#include "kernels_internal.h"

#if COLPALI_X86
#include <immintrin.h>
#endif

#define GROUP 16
#define GROUP_BYTES 30

size_t colpali_planes_bytes(int64_t rows, int dim)
{
    return (size_t)rows * (colpali_code_bytes(dim) + colpali_planes_magnitude_bytes(dim));
}

static uint16_t load_word(const uint8_t *m)
{
    return (uint16_t)(m[0] | (unsigned)m[1] << 8);
}

static void store_word(uint8_t *m, uint16_t w)
{
    m[0] = (uint8_t)w;
    m[1] = (uint8_t)(w >> 8);
}

static void pack_row(const uint16_t *row, int dim, uint8_t *m)
{
    int k = 0;
    for (; k + GROUP <= dim; k += GROUP, m += GROUP_BYTES) {
        const uint16_t last = row[k + GROUP - 1] & 0x7FFF;
        for (int i = 0; i < GROUP - 1; i++)
            store_word(m + 2 * i, (uint16_t)((row[k + i] & 0x7FFF) | ((last >> i) & 1u) << 15));
    }
    for (; k < dim; k++, m += 2)
        store_word(m, row[k] & 0x7FFF);
}

void colpali_planes_pack(const uint16_t *halves, int rows, int dim, uint8_t *out)
{
    const size_t magnitude_bytes = colpali_planes_magnitude_bytes(dim);
    uint8_t *magnitudes = out + (size_t)rows * colpali_code_bytes(dim);
    colpali_binary_quantize_half(halves, rows, dim, out);
    for (size_t r = 0; r < (size_t)rows; r++)
        pack_row(halves + r * (size_t)dim, dim, magnitudes + r * magnitude_bytes);
}

/* Values [k, k + n) of a row as halves: one group (n = 16 from a group's
 * 30 bytes at m) or the row's tail (n < 16, a word each). */
static void unpack_values(const uint8_t *code, int k, const uint8_t *m, int n, uint16_t *out)
{
    if (n == GROUP) {
        uint16_t last = 0;
        for (int i = 0; i < GROUP - 1; i++) {
            const uint16_t w = load_word(m + 2 * i);
            out[i] = w & 0x7FFF;
            last |= (uint16_t)((w >> 15) << i);
        }
        out[GROUP - 1] = last;
    } else {
        for (int i = 0; i < n; i++)
            out[i] = load_word(m + 2 * i) & 0x7FFF;
    }
    for (int i = 0; i < n; i++) {
        const int e = k + i;
        const int positive = (code[e >> 3] >> (7 - (e & 7))) & 1;
        if (!positive && out[i] != 0)
            out[i] |= 0x8000;
    }
}

static void unpack_row(const uint8_t *code, const uint8_t *m, int dim, uint16_t *out)
{
    int k = 0;
    for (; k + GROUP <= dim; k += GROUP, m += GROUP_BYTES)
        unpack_values(code, k, m, GROUP, out + k);
    if (k < dim)
        unpack_values(code, k, m, dim - k, out + k);
}

void colpali_planes_unpack(const uint8_t *planes, int rows, int dim, uint16_t *out)
{
    const size_t code_bytes = colpali_code_bytes(dim);
    const size_t magnitude_bytes = colpali_planes_magnitude_bytes(dim);
    const uint8_t *magnitudes = planes + (size_t)rows * code_bytes;
    for (size_t r = 0; r < (size_t)rows; r++)
        unpack_row(planes + r * code_bytes, magnitudes + r * magnitude_bytes, dim,
                   out + r * (size_t)dim);
}

/* Rows to floats a group at a time through a few halves on the stack: the
 * portable path, and the tail of a row on every path. */
static void rows_to_float_groups(const uint8_t *codes, const uint8_t *magnitudes, int rows, int dim,
                                 float *out, int from)
{
    const size_t code_bytes = colpali_code_bytes(dim);
    const size_t magnitude_bytes = colpali_planes_magnitude_bytes(dim);
    for (size_t r = 0; r < (size_t)rows; r++) {
        const uint8_t *code = codes + r * code_bytes;
        const uint8_t *m = magnitudes + r * magnitude_bytes + (size_t)(from / GROUP) * GROUP_BYTES;
        for (int k = from; k < dim;) {
            uint16_t halves[GROUP];
            const int n = dim - k >= GROUP ? GROUP : dim - k;
            unpack_values(code, k, m, n, halves);
            colpali_half_bytes_to_float((const unsigned char *)halves, (size_t)n, out + r * (size_t)dim + k);
            m += n == GROUP ? GROUP_BYTES : 2 * (size_t)n;
            k += n;
        }
    }
}

#if COLPALI_X86
/* A group in a few instructions: 15 words in two overlapping loads, the
 * 16th magnitude from their top bits by movemask, signs from the code's two
 * bytes by one compare per half, then F16C. */
__attribute__((target("avx2,f16c")))
static void rows_to_float_f16c(const uint8_t *codes, const uint8_t *magnitudes, int rows, int dim,
                               float *out)
{
    const size_t code_bytes = colpali_code_bytes(dim);
    const size_t magnitude_bytes = colpali_planes_magnitude_bytes(dim);
    const int full = dim / GROUP * GROUP;
    /* Value i of a group is bit 7 - i of its first code byte, then of its second. */
    const __m128i low_bits = _mm_setr_epi16(0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01);
    const __m128i high_bits = _mm_slli_epi16(low_bits, 8);
    const __m128i magnitude_mask = _mm_set1_epi16(0x7FFF);
    const __m128i sign = _mm_set1_epi16((short)0x8000);
    const __m128i zero = _mm_setzero_si128();
    for (size_t r = 0; r < (size_t)rows; r++) {
        const uint8_t *code = codes + r * code_bytes;
        const uint8_t *m = magnitudes + r * magnitude_bytes;
        float *o = out + r * (size_t)dim;
        for (int k = 0; k < full; k += GROUP, m += GROUP_BYTES) {
            __m128i a = _mm_loadu_si128((const __m128i *)m);                      /* words 0-7 */
            __m128i b = _mm_srli_si128(_mm_loadu_si128((const __m128i *)(m + 14)), 2); /* 8-14, 0 */
            const int tops = _mm_movemask_epi8(_mm_packs_epi16(_mm_srai_epi16(a, 15), _mm_srai_epi16(b, 15)));
            b = _mm_and_si128(_mm_insert_epi16(b, tops, 7), magnitude_mask);
            a = _mm_and_si128(a, magnitude_mask);
            const __m128i c = _mm_set1_epi16((short)(code[k >> 3] | (unsigned)code[(k >> 3) + 1] << 8));
            const __m128i clear_a = _mm_cmpeq_epi16(_mm_and_si128(c, low_bits), zero);
            const __m128i clear_b = _mm_cmpeq_epi16(_mm_and_si128(c, high_bits), zero);
            a = _mm_or_si128(a, _mm_and_si128(_mm_andnot_si128(_mm_cmpeq_epi16(a, zero), clear_a), sign));
            b = _mm_or_si128(b, _mm_and_si128(_mm_andnot_si128(_mm_cmpeq_epi16(b, zero), clear_b), sign));
            _mm256_storeu_ps(o + k, _mm256_cvtph_ps(a));
            _mm256_storeu_ps(o + k + 8, _mm256_cvtph_ps(b));
        }
    }
    if (full < dim)
        rows_to_float_groups(codes, magnitudes, rows, dim, out, full);
}

/* Bits of a byte in reverse order: a code keeps value i at bit 7 - i of its
 * byte, a mask register at bit i. */
#define REV2(n) n, n + 2 * 64, n + 1 * 64, n + 3 * 64
#define REV4(n) REV2(n), REV2(n + 2 * 16), REV2(n + 1 * 16), REV2(n + 3 * 16)
#define REV6(n) REV4(n), REV4(n + 2 * 4), REV4(n + 1 * 4), REV4(n + 3 * 4)
static const uint8_t reversed_bits[256] = {REV6(0), REV6(2), REV6(1), REV6(3)};

/* The same with mask registers, half the instructions of the F16C path: a
 * masked load takes the 15 words without reading past them, their top bits
 * come out as a mask (value 15's magnitude), the code's two bytes become the
 * mask of positive values, and a group widens in one 16-lane conversion.
 * (The F16C path made a 1,030 x 128 page's widening nearly half the cost of
 * scoring it against a 20-row query on a Xeon of cpu family 6 model 207.) */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void rows_to_float_avx512(const uint8_t *codes, const uint8_t *magnitudes, int rows, int dim,
                                 float *out)
{
    const size_t code_bytes = colpali_code_bytes(dim);
    const size_t magnitude_bytes = colpali_planes_magnitude_bytes(dim);
    const int full = dim / GROUP * GROUP;
    const __m256i magnitude_mask = _mm256_set1_epi16(0x7FFF);
    const __m256i sign = _mm256_set1_epi16((short)0x8000);
    for (size_t r = 0; r < (size_t)rows; r++) {
        const uint8_t *code = codes + r * code_bytes;
        const uint8_t *m = magnitudes + r * magnitude_bytes;
        float *o = out + r * (size_t)dim;
        for (int k = 0; k < full; k += GROUP, m += GROUP_BYTES) {
            __m256i w = _mm256_maskz_loadu_epi16((__mmask16)0x7FFF, m);
            const __mmask16 tops = _mm256_movepi16_mask(w);
            w = _mm256_mask_set1_epi16(_mm256_and_si256(w, magnitude_mask), (__mmask16)0x8000, (short)tops);
            const __mmask16 positive =
                (__mmask16)(reversed_bits[code[k >> 3]] | (unsigned)reversed_bits[code[(k >> 3) + 1]] << 8);
            const __mmask16 negative = _kandn_mask16(positive, _mm256_test_epi16_mask(w, w));
            w = _mm256_mask_mov_epi16(w, negative, _mm256_or_si256(w, sign));
            _mm512_storeu_ps(o + k, _mm512_cvtph_ps(w));
        }
    }
    if (full < dim)
        rows_to_float_groups(codes, magnitudes, rows, dim, out, full);
}
#endif

void colpali_planes_rows_to_float(const uint8_t *codes, const uint8_t *magnitudes, int rows, int dim,
                                  float *out)
{
    switch (colpali_current_isa()) {
#if COLPALI_X86
    case ISA_AVX512: rows_to_float_avx512(codes, magnitudes, rows, dim, out); return;
    case ISA_AVX2: rows_to_float_f16c(codes, magnitudes, rows, dim, out); return;
#endif
    default: rows_to_float_groups(codes, magnitudes, rows, dim, out, 0); return;
    }
}
