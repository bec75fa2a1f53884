/* attention_avx2.c: AVX2+FMA attention kernels (compiled with the avx2 flags of
 * setup.py; only called when fml_cpu_detect() says avx2 or better).
 * f32: 6 x 16 tile (12 ymm accumulators + 2 B vectors); f64: 6 x 8.
 * 2^n is built in the exponent field in two halves (n/2 and n - n/2), so
 * results that underflow into the subnormals are rounded once and correctly. */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attention/attention_kernels.h"
#include "attention/attention_rng.h"
#include "core/fml_dtype.h"

#define ISA avx2

static inline __m256 scalef_f32__avx2(__m256 p, __m256 n)
{
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline __m256d scalef_f64__avx2(__m256d p, __m256d n)
{
    const __m128i ni = _mm256_cvtpd_epi32(n);
    const __m128i n1 = _mm_srai_epi32(ni, 1), n2 = _mm_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi64x(1023);
    const __m256d s1 = _mm256_castsi256_pd(
        _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(n1), bias), 52));
    const __m256d s2 = _mm256_castsi256_pd(
        _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(n2), bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, s1), s2);
}

static inline float hmax_f32__avx2(__m256 v)
{
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float hsum_f32__avx2(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline double hmax_f64__avx2(__m256d v)
{
    __m128d x = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    x = _mm_max_sd(x, _mm_unpackhi_pd(x, x));
    return _mm_cvtsd_f64(x);
}

static inline double hsum_f64__avx2(__m256d v)
{
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    x = _mm_add_sd(x, _mm_unpackhi_pd(x, x));
    return _mm_cvtsd_f64(x);
}

/* lanes [0, n) of a mask (all ones) */
static inline __m256i lanes_f32__avx2(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256i lanes_f64__avx2(int64_t n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

#define FT float
#define SFX f32
#define FML_ATTN_F64 0
#define VT __m256
#define VL 8
#define NV 2
#define MR 6
#define VZERO() _mm256_setzero_ps()
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VDIV(a, b) _mm256_div_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALEF(p, n) scalef_f32__avx2(p, n)
#define VSCALEF_Z(p, n, x, lo) _mm256_and_ps(scalef_f32__avx2(p, n), _mm256_cmp_ps(x, lo, _CMP_NLT_UQ))
#define VHMAX(v) hmax_f32__avx2(v)
#define VHSUM(v) hsum_f32__avx2(v)
#define VLOAD_TAIL(p, n, fill)                                                          \
    _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, lanes_f32__avx2(n)), \
                     _mm256_castsi256_ps(lanes_f32__avx2(n)))
#define VSTORE_TAIL(p, v, n) _mm256_maskstore_ps(p, lanes_f32__avx2(n), v)
#define VGATHER(p, stride)                                                                     \
    _mm256_i32gather_ps(p, _mm256_mullo_epi32(_mm256_set1_epi32((int)(stride)),               \
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), 4)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f32__avx2(fml_attention_kernels_f32 *t)
{
    t->name = "attn_6x16_f32__avx2";
#include "attention/attention_fill_table.h"
}
#include "attention/attention_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define FML_ATTN_F64 1
#define VT __m256d
#define VL 4
#define NV 2
#define MR 6
#define VZERO() _mm256_setzero_pd()
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VDIV(a, b) _mm256_div_pd(a, b)
#define VMAX(a, b) _mm256_max_pd(a, b)
#define VMIN(a, b) _mm256_min_pd(a, b)
#define VROUND(x) _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALEF(p, n) scalef_f64__avx2(p, n)
#define VABS(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), v)
#define VBLEND_NEG(x, a, b) _mm256_blendv_pd(b, a, _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_LT_OQ))
#define VLOAD_F32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define VSTORE_F32(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v))
#define VSCALEF_Z(p, n, x, lo) _mm256_and_pd(scalef_f64__avx2(p, n), _mm256_cmp_pd(x, lo, _CMP_NLT_UQ))
#define VHMAX(v) hmax_f64__avx2(v)
#define VHSUM(v) hsum_f64__avx2(v)
#define VLOAD_TAIL(p, n, fill)                                                          \
    _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, lanes_f64__avx2(n)), \
                     _mm256_castsi256_pd(lanes_f64__avx2(n)))
#define VSTORE_TAIL(p, v, n) _mm256_maskstore_pd(p, lanes_f64__avx2(n), v)
#define VGATHER(p, stride)                                                                     \
    _mm256_i32gather_pd(p, _mm_mullo_epi32(_mm_set1_epi32((int)(stride)),                     \
                                           _mm_setr_epi32(0, 1, 2, 3)), 8)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f64__avx2(fml_attention_kernels_f64 *t)
{
    t->name = "attn_6x8_f64__avx2";
#include "attention/attention_fill_table.h"
}
#include "attention/attention_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_attention_kernels_avx2(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64)
{
    fill_f32__avx2(k32);
    fill_f64__avx2(k64);
    k32->row_gelu_erf = row_gelu_erf_f32_avx2;    /* float32 rows in float64 lanes */
}
