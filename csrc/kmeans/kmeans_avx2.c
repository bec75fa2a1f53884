/* kmeans_avx2.c: AVX2+FMA pieces of the k-means steps (row argmin). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "kmeans/kmeans_kernels.h"

#define ISA avx2

#define FT float
#define SFX f32
#define VT __m256
#define VL 8
#define IT __m256i
#define MT __m256
#define IELEM_T int32_t
#define VSET1(x) _mm256_set1_ps(x)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VCMPLT(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm256_blendv_ps(a, b, m)
#define ISET1(x) _mm256_set1_epi32((int32_t)(x))
#define IRAMP(j0) _mm256_add_epi32(_mm256_set1_epi32((int32_t)(j0)), \
    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define IADD(a, b) _mm256_add_epi32(a, b)
#define IBLEND(m, a, b) _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), \
    _mm256_castsi256_ps(b), m))
#define ISTOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
static inline void reduce_argmin_f32__avx2(__m256 v, __m256i idx, float *m, int64_t *mi)
{
    __m256 t = _mm256_min_ps(v, _mm256_permute2f128_ps(v, v, 1));
    t = _mm256_min_ps(t, _mm256_shuffle_ps(t, t, 0x4E));
    t = _mm256_min_ps(t, _mm256_shuffle_ps(t, t, 0xB1));
    const float mm = _mm256_cvtss_f32(t);
    const __m256 eq = _mm256_cmp_ps(v, _mm256_set1_ps(mm), _CMP_EQ_OQ);
    const __m256i sel = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX)), _mm256_castsi256_ps(idx), eq));
    __m128i r = _mm_min_epi32(_mm256_castsi256_si128(sel), _mm256_extracti128_si256(sel, 1));
    r = _mm_min_epi32(r, _mm_shuffle_epi32(r, 0x4E));
    r = _mm_min_epi32(r, _mm_shuffle_epi32(r, 0xB1));
    *m = mm;
    *mi = _mm_cvtsi128_si32(r);
}
#include "kmeans/kmeans_argmin_impl.h"
#include "kmeans/kmeans_rows_impl.h"
#include "kmeans/kmeans_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m256d
#define VL 4
#define IT __m256i
#define MT __m256d
#define IELEM_T int64_t
#define VSET1(x) _mm256_set1_pd(x)
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VCMPLT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define ISET1(x) _mm256_set1_epi64x((int64_t)(x))
#define IRAMP(j0) _mm256_add_epi64(_mm256_set1_epi64x((int64_t)(j0)), \
    _mm256_setr_epi64x(0, 1, 2, 3))
#define IADD(a, b) _mm256_add_epi64(a, b)
#define IBLEND(m, a, b) _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(a), \
    _mm256_castsi256_pd(b), m))
#define ISTOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
static inline void reduce_argmin_f64__avx2(__m256d v, __m256i idx, double *m, int64_t *mi)
{
    __m256d t = _mm256_min_pd(v, _mm256_permute2f128_pd(v, v, 1));
    t = _mm256_min_pd(t, _mm256_shuffle_pd(t, t, 0x5));
    const double mm = _mm256_cvtsd_f64(t);
    double lv[4];
    int64_t li[4], best = INT64_MAX;
    _mm256_storeu_pd(lv, v);
    _mm256_storeu_si256((__m256i *)li, idx);
    for (int l = 0; l < 4; l++) best = (lv[l] == mm && li[l] < best) ? li[l] : best;
    *m = mm;
    *mi = best;
}
#include "kmeans/kmeans_argmin_impl.h"
#include "kmeans/kmeans_rows_impl.h"
#include "kmeans/kmeans_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_kmeans_kernels_avx2(fml_kmeans_kernels *t)
{
    t->add_rows_f32 = add_rows_f32__avx2;
    t->add_rows_f64 = add_rows_f64__avx2;
    t->weighted_d2_f32 = weighted_d2_f32__avx2;
    t->weighted_d2_f64 = weighted_d2_f64__avx2;
    t->exact_d2_f32 = exact_d2_f32__avx2;
    t->exact_d2_f64 = exact_d2_f64__avx2;
    t->assign_lanes_f32 = assign_lanes_f32__avx2;
    t->assign_lanes_f64 = assign_lanes_f64__avx2;
    t->lanes_f32 = 8;
    t->lanes_f64 = 4;
    t->row_argmin_f32 = row_argmin_f32__avx2;
    t->row_argmin_f64 = row_argmin_f64__avx2;
}
