/* PNG through libpng's classic API (for exact control of transformations). */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colpali_image_codecs.h"

typedef struct {
    const uint8_t *data;
    size_t length;
    size_t offset;
    char *error;
    size_t error_size;
} png_source;

static void read_from_memory(png_structp png, png_bytep out, png_size_t count)
{
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (source->offset + count > source->length)
        png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

static void record_error(png_structp png, png_const_charp message)
{
    png_source *source = (png_source *)png_get_error_ptr(png);
    snprintf(source->error, source->error_size, "%s", message);
    png_longjmp(png, 1);
}

static void ignore_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

int colpali_decode_png(const uint8_t *data, size_t length, size_t max_pixels, int max_side, colpali_image *out,
                       char *error, size_t error_size)
{
    png_source source = {data, length, 0, error, error_size};
    memset(out, 0, sizeof(*out));
    if (length < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_size, "not a PNG file");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, record_error, ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        snprintf(error, error_size, "out of memory");
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &source, read_from_memory);
    /* Huge dimensions are refused from the header, before any allocation:
     * libpng itself stops at the user limits, set past max_side so that the
     * size can be reported. */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if (width > (png_uint_32)max_side || height > (png_uint_32)max_side || (size_t)width * height > max_pixels) {
        out->width = (int)(width > 0x7fffffffu ? 0x7fffffff : width);
        out->height = (int)(height > 0x7fffffffu ? 0x7fffffff : height);
        snprintf(error, error_size, "image of %u x %u pixels is larger than the limit", width, height);
        png_destroy_read_struct(&png, &info, NULL);
        return COLPALI_IMAGE_TOO_LARGE;
    }
    int color_type = png_get_color_type(png, info);
    out->has_alpha_channel = (color_type & PNG_COLOR_MASK_ALPHA) != 0;
    out->has_transparency_chunk = png_get_valid(png, info, PNG_INFO_tRNS) != 0;

    /* Palette -> RGB, low bit depths -> 8 (by bit replication, as Pillow),
     * tRNS -> alpha, 16 -> 8 by dropping the low byte, grey -> RGB, and an
     * opaque alpha where there is none. No gamma handling, as Pillow. */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 4)
        png_error(png, "unexpected row layout after conversion");

    pixels = malloc((size_t)width * height * 4);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = pixels + (size_t)y * width * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)width;
    out->height = (int)height;
    out->rgba = pixels;
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t length;
    size_t capacity;
} png_sink;

static void write_to_memory(png_structp png, png_bytep in, png_size_t count)
{
    png_sink *sink = (png_sink *)png_get_io_ptr(png);
    if (sink->length + count > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity * 2 : 65536;
        while (capacity < sink->length + count)
            capacity *= 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (!grown)
            png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->length, in, count);
    sink->length += count;
}

static void flush_nothing(png_structp png) { (void)png; }

int colpali_encode_png(const uint8_t *pixels, int width, int height, int channels, int compression_level,
                       uint8_t **out, size_t *out_length, char *error, size_t error_size)
{
    png_source errors = {NULL, 0, 0, error, error_size};
    png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, record_error, ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || (channels != 1 && channels != 3)) {
        snprintf(error, error_size, channels != 1 && channels != 3 ? "channels must be 1 or 3" : "out of memory");
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(sink.data);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, &sink, write_to_memory, flush_nothing);
    png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *out_length = sink.length;
    return 0;
}

void colpali_image_free(colpali_image *image)
{
    free(image->rgba);
    image->rgba = NULL;
}
