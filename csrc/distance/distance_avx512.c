/* distance_avx512.c: AVX-512 kernels of the distance family (compiled with the
 * avx512 flags of setup.py; used only when fml_cpu_detect() says avx512).
 * Direct tiles: 8 rows of X by 2 vectors of Y rows (16 accumulators). */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "distance/distance_kernels.h"

#define ISA avx512

#define FT float
#define SFX f32
#define VT __m512
#define VL 16
#define NV 2
#define MR 8
#define GMR 14          /* the GEMM core's 14x32 float tile */
#define MT __mmask16
#define VZERO() _mm512_setzero_ps()
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VSTREAM(p, v) _mm512_stream_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VABS(a) _mm512_abs_ps(a)
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VCMPLE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define VCMPNGE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_NGE_UQ)
#define VBLEND(m, a, b) _mm512_mask_blend_ps(m, a, b)
#define MBITS(m) ((unsigned)(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m512d
#define VL 8
#define NV 2
#define MR 8
#define GMR 14          /* the GEMM core's 14x16 double tile */
#define MT __mmask8
#define VZERO() _mm512_setzero_pd()
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VSTREAM(p, v) _mm512_stream_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#define VMIN(a, b) _mm512_min_pd(a, b)
#define VABS(a) _mm512_abs_pd(a)
#define VSQRT(a) _mm512_sqrt_pd(a)
#define VCMPLE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define VCMPNGE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_NGE_UQ)
#define VBLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define MBITS(m) ((unsigned)(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_distance_kernels_avx512(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64)
{
    *k32 = (fml_distance_kernels_f32){"avx512", 8, 32, direct_l1_f32__avx512,
                                      direct_chebyshev_f32__avx512, direct_powi_f32__avx512,
                                      finish_sq_f32__avx512, finish_cos_f32__avx512,
                                      scan_topk_f32__avx512, select_le_f32__avx512,
                                      exact_sq_f32__avx512, sqnorm_f32__avx512,
                                      14, 32, ukr_sq_f32__avx512};
    *k64 = (fml_distance_kernels_f64){"avx512", 8, 16, direct_l1_f64__avx512,
                                      direct_chebyshev_f64__avx512, direct_powi_f64__avx512,
                                      finish_sq_f64__avx512, finish_cos_f64__avx512,
                                      scan_topk_f64__avx512, select_le_f64__avx512,
                                      exact_sq_f64__avx512, sqnorm_f64__avx512,
                                      14, 16, ukr_sq_f64__avx512};
}
