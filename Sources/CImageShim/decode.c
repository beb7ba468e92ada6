// JPEG and PNG decoding wrappers with setjmp/longjmp error handling (see include/CImageShim.h).
#include "CImageShim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

static void cis_reset(CISImage *out) {
    out->pixels = NULL;
    out->width = 0;
    out->height = 0;
    out->channels = 0;
    out->message[0] = '\0';
}

void cis_image_free(CISImage *image) {
    if (image && image->pixels) {
        free(image->pixels);
        image->pixels = NULL;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
} cis_jpeg_error;

static void cis_jpeg_error_exit(j_common_ptr cinfo) {
    cis_jpeg_error *err = (cis_jpeg_error *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(err->message, sizeof(err->message), "corrupt JPEG data: %s", buffer);
    longjmp(err->jump, 1);
}

static void cis_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    cis_jpeg_error *err = (cis_jpeg_error *)cinfo->err;
    if (msg_level < 0) {
        // A premature end of the data stream is fatal (Pillow raises "image file is truncated").
        // Other warnings (extraneous bytes, corrupt segments) are ignored, as in Pillow.
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            snprintf(err->message, sizeof(err->message), "truncated JPEG data (premature end of file)");
            longjmp(err->jump, 1);
        }
        cinfo->err->num_warnings++;
    }
}

static void cis_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

int cis_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, CISImage *out) {
    struct jpeg_decompress_struct cinfo;
    cis_jpeg_error err;
    uint8_t *volatile pixels = NULL;
    volatile int created = 0;

    cis_reset(out);
    if (size == 0) {
        snprintf(out->message, sizeof(out->message), "empty JPEG data");
        return CIS_ERROR;
    }

    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cis_jpeg_error_exit;
    err.pub.emit_message = cis_jpeg_emit_message;
    err.pub.output_message = cis_jpeg_output_message;
    err.message[0] = '\0';

    if (setjmp(err.jump)) {
        if (created) jpeg_destroy_decompress(&cinfo);
        free(pixels);
        snprintf(out->message, sizeof(out->message), "%s", err.message);
        return CIS_ERROR;
    }

    jpeg_create_decompress(&cinfo);
    created = 1;
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    uint64_t width = cinfo.image_width, height = cinfo.image_height;
    if (width == 0 || height == 0) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(out->message, sizeof(out->message), "JPEG has zero width or height");
        return CIS_ERROR;
    }
    if (width * height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(out->message, sizeof(out->message),
                 "JPEG dimensions %llux%llu exceed the limit of %llu pixels",
                 (unsigned long long)width, (unsigned long long)height,
                 (unsigned long long)max_pixels);
        return CIS_TOO_LARGE;
    }

    int cmyk = 0;
    switch (cinfo.num_components) {
        case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
        case 3: cinfo.out_color_space = JCS_RGB; break;
        case 4: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
        default:
            jpeg_destroy_decompress(&cinfo);
            snprintf(out->message, sizeof(out->message), "unsupported JPEG with %d components",
                     cinfo.num_components);
            return CIS_ERROR;
    }

    jpeg_start_decompress(&cinfo);
    int components = cinfo.output_components;
    size_t stride = (size_t)cinfo.output_width * (size_t)components;
    size_t total = stride * (size_t)cinfo.output_height;
    pixels = (uint8_t *)malloc(total);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(out->message, sizeof(out->message), "out of memory (%zu bytes)", total);
        return CIS_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.output_scanline * stride);
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            // Cannot happen with a memory source (it never suspends); treat as truncation.
            jpeg_destroy_decompress(&cinfo);
            free(pixels);
            snprintf(out->message, sizeof(out->message), "truncated JPEG data");
            return CIS_ERROR;
        }
    }
    jpeg_finish_decompress(&cinfo);
    int out_width = (int)cinfo.output_width, out_height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    created = 0;

    uint8_t *result = pixels;
    if (cmyk) {
        // Pillow reads CMYK JPEGs with raw mode "CMYK;I" (Adobe polarity: stored values inverted),
        // and converts CMYK -> RGB as nk = 255 - k; r = nk - MULDIV255(c, nk).
        size_t count = (size_t)out_width * (size_t)out_height;
        for (size_t i = 0; i < count; i++) {
            unsigned c = 255u - result[4 * i + 0];
            unsigned m = 255u - result[4 * i + 1];
            unsigned y = 255u - result[4 * i + 2];
            unsigned k = 255u - result[4 * i + 3];
            unsigned nk = 255u - k, t;
            t = c * nk + 128u; unsigned rc = ((t >> 8) + t) >> 8;
            t = m * nk + 128u; unsigned rm = ((t >> 8) + t) >> 8;
            t = y * nk + 128u; unsigned ry = ((t >> 8) + t) >> 8;
            result[3 * i + 0] = (uint8_t)(nk - rc);
            result[3 * i + 1] = (uint8_t)(nk - rm);
            result[3 * i + 2] = (uint8_t)(nk - ry);
        }
        uint8_t *shrunk = (uint8_t *)realloc(result, count * 3 > 0 ? count * 3 : 1);
        if (shrunk) result = shrunk;
        components = 3;
    }

    out->pixels = result;
    out->width = out_width;
    out->height = out_height;
    out->channels = components;
    return CIS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    char message[200];
} cis_png_context;

static void cis_png_error(png_structp png, png_const_charp msg) {
    cis_png_context *ctx = (cis_png_context *)png_get_error_ptr(png);
    snprintf(ctx->message, sizeof(ctx->message), "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void cis_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void cis_png_read(png_structp png, png_bytep dest, png_size_t length) {
    cis_png_context *ctx = (cis_png_context *)png_get_io_ptr(png);
    if (length > ctx->size - ctx->position) {
        png_error(png, "truncated PNG data (unexpected end of file)");
    }
    memcpy(dest, ctx->data + ctx->position, length);
    ctx->position += length;
}

int cis_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, CISImage *out) {
    cis_png_context ctx;
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile int image_done = 0;
    volatile int result_width = 0, result_height = 0, result_channels = 0;

    cis_reset(out);
    ctx.data = data;
    ctx.size = size;
    ctx.position = 0;
    ctx.message[0] = '\0';

    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        snprintf(out->message, sizeof(out->message), "not a PNG file (bad signature)");
        return CIS_ERROR;
    }

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, cis_png_error, cis_png_warning);
    if (!png) {
        snprintf(out->message, sizeof(out->message), "cannot create libpng read struct");
        return CIS_NO_MEMORY;
    }
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(out->message, sizeof(out->message), "cannot create libpng info struct");
        return CIS_NO_MEMORY;
    }

    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        if (image_done) {
            // All pixel data was read; the error came from trailing chunks (e.g. a missing IEND).
            // Pillow accepts such files, so do we.
            out->pixels = pixels;
            out->width = result_width;
            out->height = result_height;
            out->channels = result_channels;
            return CIS_OK;
        }
        free(pixels);
        snprintf(out->message, sizeof(out->message), "corrupt PNG data: %s", ctx.message);
        return CIS_ERROR;
    }

    png_set_read_fn(png, &ctx, cis_png_read);
    png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(out->message, sizeof(out->message),
                 "PNG dimensions %ux%u exceed the limit of %llu pixels", (unsigned)width,
                 (unsigned)height, (unsigned long long)max_pixels);
        return CIS_TOO_LARGE;
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(out->message, sizeof(out->message),
                 "16-bit grayscale PNG is not supported (Pillow opens it as mode I;16, whose "
                 "conversion to RGB saturates at 255)");
        return CIS_ERROR;
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 1 && channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
        rowbytes != (size_t)width * (size_t)channels) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(out->message, sizeof(out->message),
                 "unsupported PNG layout (color type %d, bit depth %d)", color_type, bit_depth);
        return CIS_ERROR;
    }

    size_t total = rowbytes * (size_t)height;
    pixels = (uint8_t *)malloc(total > 0 ? total : 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)(height > 0 ? height : 1));
    if (!pixels || !rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        snprintf(out->message, sizeof(out->message), "out of memory (%zu bytes)", total);
        return CIS_NO_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * rowbytes;

    png_read_image(png, rows);
    result_width = (int)width;
    result_height = (int)height;
    result_channels = channels;
    image_done = 1;
    png_read_end(png, NULL);

    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->width = result_width;
    out->height = result_height;
    out->channels = result_channels;
    return CIS_OK;
}
