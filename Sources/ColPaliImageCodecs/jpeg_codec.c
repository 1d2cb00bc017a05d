/* JPEG through libjpeg(-turbo), with libjpeg's defaults (islow DCT, fancy
 * upsampling), which are Pillow's. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "colpali_image_codecs.h"

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *error;
    size_t error_size;
} error_manager;

static void on_error(j_common_ptr cinfo)
{
    error_manager *manager = (error_manager *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    snprintf(manager->error, manager->error_size, "%s", message);
    longjmp(manager->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

int colpali_decode_jpeg(const uint8_t *data, size_t length, size_t max_pixels, int max_side, colpali_image *out,
                        char *error, size_t error_size)
{
    struct jpeg_decompress_struct cinfo;
    error_manager errors;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    memset(out, 0, sizeof(*out));
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = on_error;
    errors.base.emit_message = on_message;
    errors.error = error;
    errors.error_size = error_size;
    if (setjmp(errors.jump)) {
        free(pixels);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(error, error_size, "CMYK JPEG images are not supported; convert the image to RGB");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (cinfo.image_width > (JDIMENSION)max_side || cinfo.image_height > (JDIMENSION)max_side ||
        (size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        out->width = (int)cinfo.image_width;
        out->height = (int)cinfo.image_height;
        snprintf(error, error_size, "image of %u x %u pixels is larger than the limit", cinfo.image_width,
                 cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return COLPALI_IMAGE_TOO_LARGE;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    int components = cinfo.output_components;
    pixels = malloc((size_t)width * height * 4);
    row = malloc((size_t)width * components);
    if (!pixels || !row) {
        snprintf(error, error_size, "out of memory");
        longjmp(errors.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[1] = {row};
        int y = (int)cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, rows, 1);
        uint8_t *dst = pixels + (size_t)y * width * 4;
        for (int x = 0; x < width; x++) {
            const uint8_t *src = row + (size_t)x * components;
            dst[4 * x + 0] = src[0];
            dst[4 * x + 1] = components == 1 ? src[0] : src[1];
            dst[4 * x + 2] = components == 1 ? src[0] : src[2];
            dst[4 * x + 3] = 255;
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->width = width;
    out->height = height;
    out->rgba = pixels;
    return 0;
}

int colpali_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                        uint8_t **out, size_t *out_length, char *error, size_t error_size)
{
    struct jpeg_compress_struct cinfo;
    error_manager errors;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = on_error;
    errors.base.emit_message = on_message;
    errors.error = error;
    errors.error_size = error_size;
    if (channels != 1 && channels != 3) {
        snprintf(error, error_size, "channels must be 1 or 3");
        return -1;
    }
    if (setjmp(errors.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = {(JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels)};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_length = size;
    return 0;
}
