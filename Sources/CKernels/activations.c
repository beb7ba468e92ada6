#include "CKernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"
#define CK_X86 1
#define CK_AVX512_TARGET __attribute__((target("avx512f,avx512dq,fma")))
#endif

/* The image tower's element-wise work on 16 floats at a time: TensorKit's Swift SIMD code is built for
   AVX2 (8 lanes) and spends ~9 instructions per element on QuickGELU; these AVX-512 loops, with the same
   exp polynomial (Cephes expf, |rel. error| ≲ 2 ulp), run several times faster. Elsewhere: libm. */

static int has_avx512(void) {
#if CK_X86
    static volatile int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

/* erf(x), Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7): the formula of TensorKit's `verf`. */
static float erf_as(float x) {
    float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);
    float y = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    return copysignf(1.0f - y * expf(-a * a), x);
}

#if CK_X86
CK_AVX512_TARGET static inline __m512 exp16(__m512 x) {
    /* The clamp's operand order keeps a NaN (max/min return their second operand when either is NaN), so
       a NaN reaches the output as the run's NaN check expects. */
    x = _mm512_min_ps(_mm512_set1_ps(88.3762626647949f), _mm512_max_ps(_mm512_set1_ps(-87.3365447504f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 v = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    v = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), v);
    __m512 v2 = _mm512_mul_ps(v, v);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, v2, v), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

CK_AVX512_TARGET static inline __m512 activate16(__m512 x, int kind) {
    if (kind == CK_QUICK_GELU)  /* x·σ(1.702x) = x / (1 + e^(−1.702x)) */
        return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_mul_ps(x, _mm512_set1_ps(-1.702f)))));
    /* x·Φ(x) = x/2 · (1 + erf(x/√2)) */
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865476f));
    __m512 a = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 y = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(1.421413741f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-0.284496736f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(0.254829592f));
    y = _mm512_mul_ps(y, t);
    __m512 erf_abs = _mm512_fnmadd_ps(y, exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a)), _mm512_set1_ps(1.0f));
    __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 erf = _mm512_mask_sub_ps(erf_abs, negative, _mm512_setzero_ps(), erf_abs);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

CK_AVX512_TARGET static void activate_avx512(float *x, size_t n, int kind) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, activate16(_mm512_loadu_ps(x + i), kind));
    if (i < n) {
        __mmask16 t = ck_first_lanes((int)(n - i));
        _mm512_mask_storeu_ps(x + i, t, activate16(_mm512_maskz_loadu_ps(t, x + i), kind));
    }
}

CK_AVX512_TARGET static void softmax_avx512(const float *x, float *o, int n, float scale) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    __mmask16 t = ck_first_lanes((int)(n - i));
    if (i < n) m = _mm512_mask_max_ps(m, t, m, _mm512_maskz_loadu_ps(t, x + i));
    __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(m)), sum = _mm512_setzero_ps(), s = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), top), s));
        _mm512_storeu_ps(o + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (i < n) {
        __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, x + i), top), s));
        _mm512_mask_storeu_ps(o + i, t, e);
        sum = _mm512_mask_add_ps(sum, t, sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_loadu_ps(o + i), inv));
    if (i < n) _mm512_mask_storeu_ps(o + i, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, o + i), inv));
}
#endif

void ck_activate(float *x, size_t n, int kind) {
#if CK_X86
    if (has_avx512()) { activate_avx512(x, n, kind); return; }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = kind == CK_QUICK_GELU ? x[i] / (1.0f + expf(-1.702f * x[i])) : 0.5f * x[i] * (1.0f + erf_as(x[i] * 0.7071067811865476f));
}

void ck_softmax_row(const float *x, float *o, int n, float scale) {
    if (n <= 0) return;
#if CK_X86
    if (has_avx512()) { softmax_avx512(x, o, n, scale); return; }
#endif
    float top = x[0], sum = 0;
    for (int i = 1; i < n; i++) top = fmaxf(top, x[i]);
    for (int i = 0; i < n; i++) { o[i] = expf((x[i] - top) * scale); sum += o[i]; }
    for (int i = 0; i < n; i++) o[i] *= 1.0f / sum;
}
