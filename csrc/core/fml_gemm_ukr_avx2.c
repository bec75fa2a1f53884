/* fml_gemm_ukr_avx2.c: AVX2+FMA GEMM micro-kernels (16 ymm registers).
 * f32: 6 x 16 tile (12 accumulators + 2 B vectors + 1 broadcast).
 * f64: 6 x 8 tile. */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "core/fml_gemm.h"

#define ISA avx2

#define FT float
#define SFX f32
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
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
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
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_gemm_kernels_avx2(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64)
{
    *k32 = (fml_gemm_kernel_f32){"ukr_6x16_f32__avx2", 6, 16, 256, 48, 1024,
                                 ukr_f32__avx2, pack_a_panel_f32__avx2, fma_loop_f32__avx2, 12 * 8 * 2};
    *k64 = (fml_gemm_kernel_f64){"ukr_6x8_f64__avx2", 6, 8, 256, 48, 1024,
                                 ukr_f64__avx2, pack_a_panel_f64__avx2, fma_loop_f64__avx2, 12 * 4 * 2};
}
