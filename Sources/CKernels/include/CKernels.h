#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Hot loops that Swift's SIMD types cannot express well: the bf16 GEMM (AVX-512 BF16 `vdpbf16ps`,
   chosen at run time, with a portable scalar fallback that computes the same products), the int8 GEMM
   (AVX-512 VNNI, below); and the
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

/* uint16 values of scratch `ck_bf16_attention` needs for `tokens` and `head_dim`. */
size_t ck_bf16_attention_scratch_count(int tokens, int head_dim);

/* Unmasked multi-head self-attention of one image in bf16: qkv [tokens, 3·width] (Q | K | V, heads as column
   blocks), per head scores = Q_h·K_hᵀ (bf16 inputs, fp32 sums), P = softmax(scale · scores) in fp32, then
   out[:, head] = P·V_h with P and V_h in bf16 (row stride ldo). scores: tokens² floats. Single-threaded. */
void ck_bf16_attention(const float *qkv, int tokens, int width, int heads, float scale,
                       float *scores, uint16_t *scratch, float *out, int ldo);

/* The image tower's activations, in place: CK_GELU x·Φ(x) (erf by Abramowitz & Stegun 7.1.26) or
   CK_QUICK_GELU x·σ(1.702x); AVX-512 when the CPU has it, else libm. */
enum { CK_GELU = 0, CK_QUICK_GELU = 1 };
void ck_activate(float *x, size_t n, int kind);

/* o[0..<n] = softmax(scale · x[0..<n]) for scale > 0 (in place when o == x). */
void ck_softmax_row(const float *x, float *o, int n, float scale);

/* The int8 path (AVX-512 VNNI `vpdpbusd`, chosen at run time, with a portable fallback of the same
   integers and float operations): weights symmetric int8 per output channel, activations asymmetric
   uint8 per row, exact int32 sums, dequantized in the store. */

/* 1 when this CPU executes AVX-512 VNNI instructions (the fast int8 path), else 0. */
int ck_has_avx512_vnni(void);

/* Per row r of w [n, k]: scales[r] = max|w[r]| / 127 and q = clamp(rint(w / scale), ±127); an all-zero
   row has scale 0 and q = 0. */
void ck_s8_quantize_weights(const float *w, int n, int k, int8_t *q, float *scales);

/* Number of int8 values `ck_s8_pack_weights` writes for [n, k]. */
size_t ck_s8_packed_count(int n, int k);

/* Packs q [n, k] in panels of 32 output columns, each holding, per quad of inputs (4j … 4j+3), the
   32 columns' 4 bytes side by side (columns past n and inputs past k are zero); colsums[r] = Σ q[r]. */
void ck_s8_pack_weights(const int8_t *q, int n, int k, int8_t *out, int32_t *colsums);

/* Number of uint8 values `ck_u8_quantize_rows` writes for [m, k]. */
size_t ck_u8_packed_count(int m, int k);

/* Quantizes a [m, k] fp32 matrix (row stride lda) per row: [lo, hi] = [min(0, min row), max(0, max row)],
   scale = (hi − lo) / 255, zero = rint(−lo / scale), q = clamp(rint(x · (1 / scale)) + zero, 0, 255)
   (scale 0, zero 0, q 0 for an all-zero row). Output in groups of 14 rows: per group and input quad j,
   the 14 rows' bytes 4j … 4j+3 side by side; rows past m and inputs past k are zero. */
void ck_u8_quantize_rows(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros);
void ck_u8_quantize_rows_portable(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros);

/* C[m, n] (row stride ldc) = fma(float(Σ a·q − zero_r·colsum_c), scale_r · wscale_c, bias_c), plus C when
   accumulate != 0. a, scales, zeros from ck_u8_quantize_rows; w, colsum from ck_s8_pack_weights with the
   same n, k. The int32 sums are exact (|Σ| < 2³¹ for k ≤ 65,000). Single-threaded. */
void ck_s8_gemm(int m, int n, int k, const uint8_t *a, const float *ascale, const int32_t *azero,
                const int8_t *w, const float *wscale, const int32_t *colsum, const float *bias,
                int accumulate, float *c, int ldc);

/* The same contract in plain C, one output at a time, bit-identical results: the fallback without VNNI. */
void ck_s8_gemm_portable(int m, int n, int k, const uint8_t *a, const float *ascale, const int32_t *azero,
                         const int8_t *w, const float *wscale, const int32_t *colsum, const float *bias,
                         int accumulate, float *c, int ldc);

/* Runs iterations × 24 independent vpdpbusd on zmm registers (the instruction's peak; 64 multiply-adds
   each); returns a value that depends on all of them, or -1 without AVX-512 VNNI. */
int64_t ck_vnni_peak_loop(int64_t iterations);

#endif
