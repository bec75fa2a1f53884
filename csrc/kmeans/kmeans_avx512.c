/* kmeans_avx512.c: AVX-512 pieces of the k-means steps (row argmin). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "kmeans/kmeans_kernels.h"

#define ISA avx512

#define FT float
#define SFX f32
#define VT __m512
#define VL 16
#define IT __m512i
#define MT __mmask16
#define IELEM_T int32_t
#define VSET1(x) _mm512_set1_ps(x)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VCMPLT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm512_mask_blend_ps(m, a, b)
#define ISET1(x) _mm512_set1_epi32((int32_t)(x))
#define IRAMP(j0) _mm512_add_epi32(_mm512_set1_epi32((int32_t)(j0)), \
    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define IADD(a, b) _mm512_add_epi32(a, b)
#define IBLEND(m, a, b) _mm512_mask_blend_epi32(m, a, b)
#define ISTOREU(p, v) _mm512_storeu_si512((void *)(p), v)
static inline void reduce_argmin_f32__avx512(__m512 v, __m512i idx, float *m, int64_t *mi)
{
    const float mm = _mm512_reduce_min_ps(v);
    const __mmask16 eq = _mm512_cmp_ps_mask(v, _mm512_set1_ps(mm), _CMP_EQ_OQ);
    *m = mm;
    *mi = _mm512_mask_reduce_min_epi32(eq, idx);
}
#include "kmeans/kmeans_argmin_impl.h"
#include "kmeans/kmeans_rows_impl.h"
#include "kmeans/kmeans_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m512d
#define VL 8
#define IT __m256i
#define MT __mmask8
#define IELEM_T int32_t
#define VSET1(x) _mm512_set1_pd(x)
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VCMPLT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define VBLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define ISET1(x) _mm256_set1_epi32((int32_t)(x))
#define IRAMP(j0) _mm256_add_epi32(_mm256_set1_epi32((int32_t)(j0)), \
    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define IADD(a, b) _mm256_add_epi32(a, b)
#define IBLEND(m, a, b) _mm256_mask_blend_epi32(m, a, b)
#define ISTOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
static inline void reduce_argmin_f64__avx512(__m512d v, __m256i idx, double *m, int64_t *mi)
{
    const double mm = _mm512_reduce_min_pd(v);
    const __mmask8 eq = _mm512_cmp_pd_mask(v, _mm512_set1_pd(mm), _CMP_EQ_OQ);
    __m256i sel = _mm256_mask_blend_epi32(eq, _mm256_set1_epi32(INT32_MAX), idx);
    __m128i t = _mm_min_epi32(_mm256_castsi256_si128(sel), _mm256_extracti128_si256(sel, 1));
    t = _mm_min_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_min_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    *m = mm;
    *mi = _mm_cvtsi128_si32(t);
}
#include "kmeans/kmeans_argmin_impl.h"
#include "kmeans/kmeans_rows_impl.h"
#include "kmeans/kmeans_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_kmeans_kernels_avx512(fml_kmeans_kernels *t)
{
    t->add_rows_f32 = add_rows_f32__avx512;
    t->add_rows_f64 = add_rows_f64__avx512;
    t->weighted_d2_f32 = weighted_d2_f32__avx512;
    t->weighted_d2_f64 = weighted_d2_f64__avx512;
    t->exact_d2_f32 = exact_d2_f32__avx512;
    t->exact_d2_f64 = exact_d2_f64__avx512;
    t->assign_lanes_f32 = assign_lanes_f32__avx512;
    t->assign_lanes_f64 = assign_lanes_f64__avx512;
    t->lanes_f32 = 16;
    t->lanes_f64 = 8;
    t->row_argmin_f32 = row_argmin_f32__avx512;
    t->row_argmin_f64 = row_argmin_f64__avx512;
}
