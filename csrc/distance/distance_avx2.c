/* distance_avx2.c: AVX2+FMA kernels of the distance family (16 ymm registers).
 * Direct tiles: 4 rows of X by 2 vectors of Y rows (8 accumulators). */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "distance/distance_kernels.h"

#define ISA avx2

#define FT float
#define SFX f32
#define VT __m256
#define VL 8
#define NV 2
#define MR 4
#define GMR 6           /* the GEMM core's 6x16 float tile */
#define MT __m256
#define VZERO() _mm256_setzero_ps()
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VSTREAM(p, v) _mm256_stream_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VCMPLE(a, b) _mm256_cmp_ps(a, b, _CMP_LE_OQ)
#define VCMPNGE(a, b) _mm256_cmp_ps(a, b, _CMP_NGE_UQ)
#define VBLEND(m, a, b) _mm256_blendv_ps(a, b, m)
#define MBITS(m) ((unsigned)_mm256_movemask_ps(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m256d
#define VL 4
#define NV 2
#define MR 4
#define GMR 6           /* the GEMM core's 6x8 double tile */
#define MT __m256d
#define VZERO() _mm256_setzero_pd()
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VSTREAM(p, v) _mm256_stream_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VMAX(a, b) _mm256_max_pd(a, b)
#define VMIN(a, b) _mm256_min_pd(a, b)
#define VABS(a) _mm256_andnot_pd(_mm256_set1_pd(-0.0), a)
#define VSQRT(a) _mm256_sqrt_pd(a)
#define VCMPLE(a, b) _mm256_cmp_pd(a, b, _CMP_LE_OQ)
#define VCMPNGE(a, b) _mm256_cmp_pd(a, b, _CMP_NGE_UQ)
#define VBLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define MBITS(m) ((unsigned)_mm256_movemask_pd(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_distance_kernels_avx2(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64)
{
    *k32 = (fml_distance_kernels_f32){"avx2", 4, 16, direct_l1_f32__avx2,
                                      direct_chebyshev_f32__avx2, direct_powi_f32__avx2,
                                      finish_sq_f32__avx2, finish_cos_f32__avx2,
                                      scan_topk_f32__avx2, select_le_f32__avx2,
                                      exact_sq_f32__avx2, sqnorm_f32__avx2,
                                      6, 16, ukr_sq_f32__avx2};
    *k64 = (fml_distance_kernels_f64){"avx2", 4, 8, direct_l1_f64__avx2,
                                      direct_chebyshev_f64__avx2, direct_powi_f64__avx2,
                                      finish_sq_f64__avx2, finish_cos_f64__avx2,
                                      scan_topk_f64__avx2, select_le_f64__avx2,
                                      exact_sq_f64__avx2, sqnorm_f64__avx2,
                                      6, 8, ukr_sq_f64__avx2};
}
