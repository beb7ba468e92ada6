#ifndef CKERNELS_LANES_H
#define CKERNELS_LANES_H
/* The masks of the kernels' partial vectors (internal to CKernels). */
#if defined(__x86_64__)
#include <immintrin.h>

/* The first n of 16 lanes (none for n ≤ 0, all for n ≥ 16). */
static inline __mmask16 ck_first_lanes(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}
#endif
#endif
