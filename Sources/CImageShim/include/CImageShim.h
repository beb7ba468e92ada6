// CImageShim: JPEG / PNG decoding with setjmp-based error handling, callable from Swift.
//
// libjpeg and libpng report fatal errors by calling an error handler that must not return; the
// usual way out is longjmp, which Swift cannot use. These wrappers do the setjmp in C and turn
// every library error into a return code plus a message, so a corrupt or truncated file never
// aborts the process.
#ifndef CIMAGESHIM_H
#define CIMAGESHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded image: 8-bit interleaved pixels, `channels` = 1 (gray), 3 (RGB) or 4 (RGBA).
/// `pixels` is malloc'd by the decoder; release it with `cis_image_free`.
typedef struct {
    uint8_t *pixels;
    int32_t width;
    int32_t height;
    int32_t channels;
    char message[256];
} CISImage;

/// Return codes.
enum {
    CIS_OK = 0,
    CIS_ERROR = 1,        // corrupt / truncated / unsupported data; see `message`
    CIS_TOO_LARGE = 2,    // width * height exceeds `max_pixels` (checked before allocating)
    CIS_NO_MEMORY = 3,
};

/// Decode a JPEG held in memory. Gray → 1 channel, YCbCr/RGB → 3 channels, CMYK/YCCK → 3 channels
/// (Adobe-inverted CMYK converted with Pillow's `cmyk2rgb` formula). No EXIF orientation.
/// A premature end of data is an error (as in Pillow); other libjpeg warnings are ignored.
int cis_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, CISImage *out);

/// Decode a PNG held in memory. Gray (1/2/4/8-bit) → 1 channel; gray+alpha → 4 channels (gray
/// replicated); RGB → 3; RGBA → 4; palette → 3, or 4 when it has a tRNS chunk. 16-bit samples keep
/// their high byte (as Pillow does). 16-bit grayscale is refused (Pillow opens it as mode I;16).
/// tRNS on gray/RGB images is ignored (Pillow keeps those as L/RGB). No gamma correction.
int cis_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, CISImage *out);

void cis_image_free(CISImage *image);

#ifdef __cplusplus
}
#endif

#endif
