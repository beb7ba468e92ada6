#include "CKernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"
#define CK_X86 1
#define CK_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))
#endif

/* The same register blocking as the bf16 kernel: 14 rows × 32 columns of int32 accumulators (28 zmm).
   A is quantized straight into 14-row groups (per group and input quad, the 14 rows' 4 bytes side by side),
   so the micro-kernel reads A and W as two sequential streams. K is not blocked: an accumulator covers the
   whole input width, so the int32 sums are exact and the store dequantizes once. MG groups (56 rows) of A
   stay in L2 while all of W's panels stream past them. */
enum { PANEL = 32, MR = 14, MG = 4 };

int ck_has_avx512_vnni(void) {
#if CK_X86
    static volatile int cached = -1; /* idempotent, so a race only repeats the query */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")
              && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
              && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

static int quads_of(int k) { return (k + 3) / 4; }

void ck_s8_quantize_weights(const float *w, int n, int k, int8_t *q, float *scales) {
    for (int r = 0; r < n; r++) {
        const float *row = w + (size_t)r * k;
        float amax = 0;
        for (int i = 0; i < k; i++) amax = fmaxf(amax, fabsf(row[i]));
        float scale = amax / 127.0f;
        scales[r] = scale;
        for (int i = 0; i < k; i++) {
            float v = scale > 0 ? rintf(row[i] / scale) : 0.0f;
            q[(size_t)r * k + i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

size_t ck_s8_packed_count(int n, int k) {
    return ((size_t)n + PANEL - 1) / PANEL * (size_t)quads_of(k) * PANEL * 4;
}

void ck_s8_pack_weights(const int8_t *q, int n, int k, int8_t *out, int32_t *colsums) {
    int panels = (n + PANEL - 1) / PANEL, quads = quads_of(k);
    for (int p = 0; p < panels; p++)
        for (int j = 0; j < quads; j++)
            for (int col = 0; col < PANEL; col++)
                for (int e = 0; e < 4; e++) {
                    int row = p * PANEL + col, in = 4 * j + e;
                    out[(((size_t)p * quads + j) * PANEL + col) * 4 + e] = (row < n && in < k) ? q[(size_t)row * k + in] : 0;
                }
    for (int r = 0; r < n; r++) {
        int32_t s = 0;
        for (int i = 0; i < k; i++) s += q[(size_t)r * k + i];
        colsums[r] = s;
    }
}

size_t ck_u8_packed_count(int m, int k) {
    return ((size_t)m + MR - 1) / MR * (size_t)quads_of(k) * MR * 4;
}

/* Range [lo, hi] of a row, widened to hold 0 so that 0 is exact; scale and zero point from it. */
static void row_parameters(float lo, float hi, float *scale, int32_t *zero, float *inverse) {
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    float s = (hi - lo) / 255.0f;
    if (!(s > 0)) { *scale = 0; *zero = 0; *inverse = 0; return; }
    float z = rintf(-lo / s);
    *scale = s;
    *zero = (int32_t)(z > 255 ? 255 : z < 0 ? 0 : z);
    *inverse = 1.0f / s;
}

static uint8_t quantize_one(float x, float inverse, int32_t zero) {
    float v = rintf(x * inverse) + (float)zero;
    return (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
}

static void quantize_rows_portable(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros) {
    int quads = quads_of(k), groups = (m + MR - 1) / MR;
    memset(out, 0, (size_t)groups * quads * MR * 4);
    for (int r = 0; r < m; r++) {
        const float *row = a + (size_t)r * lda;
        float lo = row[0], hi = row[0], inverse;
        for (int i = 1; i < k; i++) { lo = fminf(lo, row[i]); hi = fmaxf(hi, row[i]); }
        row_parameters(lo, hi, &scales[r], &zeros[r], &inverse);
        uint8_t *dst = out + (size_t)(r / MR) * quads * MR * 4 + (size_t)(r % MR) * 4;
        for (int i = 0; i < k; i++) dst[(size_t)(i / 4) * MR * 4 + i % 4] = quantize_one(row[i], inverse, zeros[r]);
    }
}

#if CK_X86
/* rint(x·inverse) + zero, clamped to [0, 255]: the portable arithmetic, 16 at a time (rounding to nearest even). */
CK_VNNI_TARGET static inline __m128i quantize16(__m512 x, __m512 inverse, __m512 zero) {
    __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(x, inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, zero), _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

CK_VNNI_TARGET static void quantize_rows_avx512(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros) {
    int quads = quads_of(k), groups = (m + MR - 1) / MR;
    size_t group_bytes = (size_t)quads * MR * 4;
    /* Rows past m in the last group stay zero (the kernel never stores them). */
    if (m % MR) memset(out + (size_t)(groups - 1) * group_bytes, 0, group_bytes);
    for (int r = 0; r < m; r++) {
        const float *row = a + (size_t)r * lda;
        __m512 lo = _mm512_set1_ps(row[0]), hi = lo;
        int i = 0;
        for (; i + 16 <= k; i += 16) { __m512 v = _mm512_loadu_ps(row + i); lo = _mm512_min_ps(lo, v); hi = _mm512_max_ps(hi, v); }
        if (i < k) {
            __mmask16 t = ck_first_lanes(k - i);
            __m512 v = _mm512_mask_loadu_ps(lo, t, row + i); lo = _mm512_min_ps(lo, v);
            v = _mm512_mask_loadu_ps(hi, t, row + i); hi = _mm512_max_ps(hi, v);
        }
        float inverse;
        row_parameters(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &scales[r], &zeros[r], &inverse);
        __m512 inv = _mm512_set1_ps(inverse), zero = _mm512_set1_ps((float)zeros[r]);
        uint8_t *dst = out + (size_t)(r / MR) * group_bytes + (size_t)(r % MR) * 4;
        /* 16 inputs = 4 quads, each 4 bytes going MR·4 bytes apart in the group. */
        for (i = 0; i + 16 <= k; i += 16) {
            __m128i bytes = quantize16(_mm512_loadu_ps(row + i), inv, zero);
            uint8_t *d = dst + (size_t)(i / 4) * MR * 4;
            _mm_storeu_si32(d, bytes);
            _mm_storeu_si32(d + MR * 4, _mm_srli_si128(bytes, 4));
            _mm_storeu_si32(d + 2 * MR * 4, _mm_srli_si128(bytes, 8));
            _mm_storeu_si32(d + 3 * MR * 4, _mm_srli_si128(bytes, 12));
        }
        if (i < k) {
            int left = k - i;
            __m128i bytes = quantize16(_mm512_maskz_loadu_ps(ck_first_lanes(left), row + i), inv, zero);
            uint32_t words[4];
            _mm_storeu_si128((__m128i *)words, bytes);
            for (int q = 0; q < (left + 3) / 4; q++) {
                uint32_t word = words[q];
                if (4 * q + 4 > left) word &= (1u << (8 * (left - 4 * q))) - 1; /* the pad past k is zero */
                memcpy(dst + (size_t)(i / 4 + q) * MR * 4, &word, 4);
            }
        }
    }
}
#endif

void ck_u8_quantize_rows(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros) {
    if (m <= 0 || k <= 0) return;
#if CK_X86
    if (ck_has_avx512_vnni()) { quantize_rows_avx512(a, m, k, lda, out, scales, zeros); return; }
#endif
    quantize_rows_portable(a, m, k, lda, out, scales, zeros);
}

void ck_u8_quantize_rows_portable(const float *a, int m, int k, int lda, uint8_t *out, float *scales, int32_t *zeros) {
    if (m <= 0 || k <= 0) return;
    quantize_rows_portable(a, m, k, lda, out, scales, zeros);
}

#if CK_X86
/* rows × 32 block of C: the exact int32 sums over all quads, then
   c = fma(float(acc − zero_r·colsum), scale_r·wscale, bias) (+ c). */
CK_VNNI_TARGET static inline __attribute__((always_inline)) void s8_micro_kernel(
    int rows, int quads, const int32_t *a, const int8_t *b, float *c, int ldc, __mmask16 m0, __mmask16 m1,
    const float *ascale, const int32_t *azero, __m512 ws0, __m512 ws1, __m512i cs0, __m512i cs1,
    __m512 bias0, __m512 bias1, int load_c)
{
    __m512i acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) if (r < rows) { acc[r][0] = _mm512_setzero_si512(); acc[r][1] = _mm512_setzero_si512(); }
    for (int j = 0; j < quads; j++) {
        __m512i b0 = _mm512_loadu_si512(b + (size_t)j * 128);
        __m512i b1 = _mm512_loadu_si512(b + (size_t)j * 128 + 64);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) if (r < rows) {
            __m512i av = _mm512_set1_epi32(a[(size_t)j * MR + r]);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) if (r < rows) {
        float *cr = c + (size_t)r * ldc;
        __m512i z = _mm512_set1_epi32(azero[r]);
        __m512 s = _mm512_set1_ps(ascale[r]);
        __m512 t0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], _mm512_mullo_epi32(z, cs0)));
        __m512 t1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], _mm512_mullo_epi32(z, cs1)));
        __m512 v0 = _mm512_fmadd_ps(t0, _mm512_mul_ps(s, ws0), bias0);
        __m512 v1 = _mm512_fmadd_ps(t1, _mm512_mul_ps(s, ws1), bias1);
        if (load_c) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

CK_VNNI_TARGET static void s8_gemm_avx512(int m, int n, int k, const uint8_t *a, const float *ascale, const int32_t *azero,
                                          const int8_t *w, const float *wscale, const int32_t *colsum, const float *bias,
                                          int accumulate, float *c, int ldc) {
    int quads = quads_of(k), panels = (n + PANEL - 1) / PANEL, groups = (m + MR - 1) / MR;
    const int32_t *a32 = (const int32_t *)a;
    for (int g0 = 0; g0 < groups; g0 += MG) {
        int g1 = groups - g0 < MG ? groups : g0 + MG;
        for (int p = 0; p < panels; p++) {
            int valid = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
            __mmask16 k0 = ck_first_lanes(valid);
            __mmask16 k1 = ck_first_lanes(valid - 16);
            int col = p * PANEL;
            __m512 ws0 = _mm512_maskz_loadu_ps(k0, wscale + col), ws1 = _mm512_maskz_loadu_ps(k1, wscale + col + 16);
            __m512i cs0 = _mm512_maskz_loadu_epi32(k0, colsum + col), cs1 = _mm512_maskz_loadu_epi32(k1, colsum + col + 16);
            __m512 bias0 = bias ? _mm512_maskz_loadu_ps(k0, bias + col) : _mm512_setzero_ps();
            __m512 bias1 = bias ? _mm512_maskz_loadu_ps(k1, bias + col + 16) : _mm512_setzero_ps();
            const int8_t *bp = w + (size_t)p * quads * PANEL * 4;
            for (int g = g0; g < g1; g++) {
                int r0 = g * MR, rows = m - r0 < MR ? m - r0 : MR;
                const int32_t *ap = a32 + (size_t)g * quads * MR;
                float *cp = c + (size_t)r0 * ldc + col;
                switch (rows) {
#define CK_ROWS(R) case R: s8_micro_kernel(R, quads, ap, bp, cp, ldc, k0, k1, ascale + r0, azero + r0, ws0, ws1, cs0, cs1, bias0, bias1, accumulate); break;
                    CK_ROWS(1) CK_ROWS(2) CK_ROWS(3) CK_ROWS(4) CK_ROWS(5) CK_ROWS(6) CK_ROWS(7)
                    CK_ROWS(8) CK_ROWS(9) CK_ROWS(10) CK_ROWS(11) CK_ROWS(12) CK_ROWS(13) CK_ROWS(14)
#undef CK_ROWS
                }
            }
        }
    }
}

/* Independent vpdpbusd chains on registers only: the instruction's throughput on this core. */
CK_VNNI_TARGET static int64_t vnni_peak(int64_t iterations) {
    __m512i acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_epi32(i);
    __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
    for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
        __asm__ volatile("" : "+v"(a)); /* keeps the loop from being folded */
    }
    __m512i s = acc[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_epi32(s, acc[i]);
    return _mm512_reduce_add_epi32(s);
}
#endif

int64_t ck_vnni_peak_loop(int64_t iterations) {
#if CK_X86
    if (ck_has_avx512_vnni()) return vnni_peak(iterations);
#endif
    (void)iterations;
    return -1;
}

/* The same integers and the same float operations as the AVX-512 store, one output at a time. */
void ck_s8_gemm_portable(int m, int n, int k, const uint8_t *a, const float *ascale, const int32_t *azero,
                         const int8_t *w, const float *wscale, const int32_t *colsum, const float *bias,
                         int accumulate, float *c, int ldc) {
    int quads = quads_of(k);
    for (int r = 0; r < m; r++) {
        const uint8_t *ar = a + (size_t)(r / MR) * quads * MR * 4 + (size_t)(r % MR) * 4;
        for (int col = 0; col < n; col++) {
            const int8_t *wp = w + ((size_t)(col / PANEL) * quads * PANEL + col % PANEL) * 4;
            int32_t acc = 0;
            for (int j = 0; j < quads; j++)
                for (int e = 0; e < 4; e++) acc += (int32_t)ar[(size_t)j * MR * 4 + e] * (int32_t)wp[(size_t)j * PANEL * 4 + e];
            float t = (float)(acc - azero[r] * colsum[col]);
            float s = ascale[r] * wscale[col];
            float v = fmaf(t, s, bias ? bias[col] : 0.0f);
            float *out = c + (size_t)r * ldc + col;
            *out = accumulate ? v + *out : v;
        }
    }
}

void ck_s8_gemm(int m, int n, int k, const uint8_t *a, const float *ascale, const int32_t *azero,
                const int8_t *w, const float *wscale, const int32_t *colsum, const float *bias,
                int accumulate, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
#if CK_X86
    if (k > 0 && ck_has_avx512_vnni()) { s8_gemm_avx512(m, n, k, a, ascale, azero, w, wscale, colsum, bias, accumulate, c, ldc); return; }
#endif
    ck_s8_gemm_portable(m, n, k, a, ascale, azero, w, wscale, colsum, bias, accumulate, c, ldc);
}
