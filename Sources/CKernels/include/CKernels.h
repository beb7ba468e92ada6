#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Hot loops that Swift's SIMD types cannot express well: the bf16 GEMM (AVX-512 BF16 `vdpbf16ps`,
   chosen at run time, with a portable scalar fallback that computes the same products); and the
   allocator policy for large tensors. */

/* Makes glibc keep freed blocks of up to 1 GiB for reuse instead of unmapping them (a program-wide
   choice: the clipcl executable makes it at start; libraries never do). No-op elsewhere. */
void ck_keep_freed_memory(void);

/* The best OpenBLAS kernel family (an OPENBLAS_CORETYPE name) this CPU's instruction sets allow:
   "Cooperlake" (AVX-512 with BF16), "SkylakeX" (AVX-512), "Haswell" (AVX2 + FMA), or NULL. */
const char *ck_blas_core_for_cpu(void);

/* 1 when this CPU executes AVX-512 BF16 instructions (the fast path), else 0. */
int ck_has_avx512_bf16(void);

/* bf16 bits of x, rounded to nearest even (NaN stays NaN): the rounding of `vcvtneps2bf16`. */
uint16_t ck_bf16_from_float(float x);

/* Number of uint16 values `ck_bf16_pack_weights` writes for a weight matrix [n, k]. */
size_t ck_bf16_packed_count(int n, int k);

/* Packs w [n, k] (PyTorch Linear layout, row-major) as bf16: panels of 32 output columns, each
   holding, per pair of inputs (2j, 2j+1), the 32 columns' interleaved pairs. Columns past n and
   the input past an odd k are zero. */
void ck_bf16_pack_weights(const float *w, int n, int k, uint16_t *out);

/* Converts a [m, k] fp32 matrix with row stride lda to bf16 rows of even length (k rounded up;
   the pad is zero), row stride (k + 1) & ~1. */
void ck_bf16_convert_rows(const float *a, int m, int k, int lda, uint16_t *out);

/* C[m, n] (row stride ldc) = A·Wᵀ + bias, or C += A·Wᵀ + bias when accumulate != 0.
   A: bf16 rows from ck_bf16_convert_rows; W: packed by ck_bf16_pack_weights with the same n, k;
   bias: n floats or NULL. Products are exact in fp32 and summed in fp32. Single-threaded. */
void ck_bf16_gemm(int m, int n, int k, const uint16_t *a, const uint16_t *w, const float *bias,
                  int accumulate, float *c, int ldc);

/* The same contract in plain C, one output at a time: the fallback on CPUs without AVX-512 BF16. */
void ck_bf16_gemm_portable(int m, int n, int k, const uint16_t *a, const uint16_t *w, const float *bias,
                           int accumulate, float *c, int ldc);

#endif
