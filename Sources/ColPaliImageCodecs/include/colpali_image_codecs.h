/*
 * PNG and JPEG decoding and encoding through libpng and libjpeg(-turbo).
 * A C layer because both libraries report errors with setjmp/longjmp, which
 * Swift cannot call. Decoding matches what Pillow produces for the same file
 * (no gamma or colour management, 16-bit samples truncated to their high byte).
 */
#ifndef COLPALI_IMAGE_CODECS_H
#define COLPALI_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int width;
    int height;
    /* width * height * 4 bytes, RGBA 8-bit, rows top to bottom; free with
     * colpali_image_free. Alpha is 255 where the source has none. */
    uint8_t *rgba;
    /* The source had an alpha channel (RGBA, grey + alpha). */
    int has_alpha_channel;
    /* The source had a tRNS chunk (palette alphas or a colour key): alpha
     * comes from it. */
    int has_transparency_chunk;
} colpali_image;

/* 0 on success; otherwise a message in `error` (NUL-terminated) and -1, or
 * COLPALI_IMAGE_TOO_LARGE when the header announces more than max_pixels
 * pixels or a side longer than max_side (out->width and out->height then
 * hold the announced size; nothing was allocated for the pixels). */
#define COLPALI_IMAGE_TOO_LARGE (-3)
int colpali_decode_png(const uint8_t *data, size_t length, size_t max_pixels, int max_side, colpali_image *out,
                       char *error, size_t error_size);
int colpali_decode_jpeg(const uint8_t *data, size_t length, size_t max_pixels, int max_side, colpali_image *out,
                        char *error, size_t error_size);
void colpali_image_free(colpali_image *image);

/* Encode 8-bit RGB (channels 3) or grey (channels 1) pixels. On success 0 and
 * *out / *out_length hold a malloc'd buffer the caller frees with free(). */
int colpali_encode_png(const uint8_t *pixels, int width, int height, int channels, int compression_level,
                       uint8_t **out, size_t *out_length, char *error, size_t error_size);
int colpali_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                        uint8_t **out, size_t *out_length, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
