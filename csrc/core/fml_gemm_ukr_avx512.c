/* fml_gemm_ukr_avx512.c: AVX-512 GEMM micro-kernels (compiled with the avx512
 * flags of setup.py; only called when fml_cpu_detect() says avx512).
 * f32: 14 x 32 tile (28 zmm accumulators + 2 B vectors, A broadcast from memory).
 * f64: 14 x 16 tile, same shape in doubles. */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "core/fml_gemm.h"

#define ISA avx512

#define FT float
#define SFX f32
#define VT __m512
#define VL 16
#define NV 2
#define MR 14
#define VZERO() _mm512_setzero_ps()
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m512d
#define VL 8
#define NV 2
#define MR 14
#define VZERO() _mm512_setzero_pd()
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_gemm_kernels_avx512(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64)
{
    *k32 = (fml_gemm_kernel_f32){"ukr_14x32_f32__avx512", 14, 32, 256, 56, 1024,
                                 ukr_f32__avx512, pack_a_panel_f32__avx512, fma_loop_f32__avx512, 12 * 16 * 2};
    *k64 = (fml_gemm_kernel_f64){"ukr_14x16_f64__avx512", 14, 16, 256, 56, 1024,
                                 ukr_f64__avx512, pack_a_panel_f64__avx512, fma_loop_f64__avx512, 12 * 8 * 2};
}
