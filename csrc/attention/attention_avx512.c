/* attention_avx512.c: AVX-512 attention kernels (compiled with the avx512 flags
 * of setup.py; only called when fml_cpu_detect() says avx512).
 * f32: 14 x 32 tile (28 zmm accumulators + 2 B vectors); f64: 14 x 16.
 * Exponentials use vscalefps/pd (exact 2^n scaling with underflow to 0). */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attention/attention_kernels.h"
#include "attention/attention_rng.h"
#include "core/fml_dtype.h"

#define ISA avx512

#define FT float
#define SFX f32
#define FML_ATTN_F64 0
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
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VDIV(a, b) _mm512_div_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALEF(p, n) _mm512_scalef_ps(p, n)
#define VSCALEF_Z(p, n, x, lo) _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), p, n)
#define VHMAX(v) _mm512_reduce_max_ps(v)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define VLOAD_TAIL(p, n, fill) \
    _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << (n)) - 1u), p)
#define VSTORE_TAIL(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1u), v)
#define VGATHER(p, stride)                                                                       \
    _mm512_i32gather_ps(_mm512_mullo_epi32(_mm512_set1_epi32((int)(stride)),                    \
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,    \
                                                             11, 12, 13, 14, 15)), p, 4)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f32__avx512(fml_attention_kernels_f32 *t)
{
    t->name = "attn_14x32_f32__avx512";
#include "attention/attention_fill_table.h"
}
#include "attention/attention_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define FML_ATTN_F64 1
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
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VDIV(a, b) _mm512_div_pd(a, b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#define VMIN(a, b) _mm512_min_pd(a, b)
#define VROUND(x) _mm512_roundscale_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALEF(p, n) _mm512_scalef_pd(p, n)
#define VABS(v) _mm512_abs_pd(v)
#define VBLEND_NEG(x, a, b) _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ), b, a)
#define VLOAD_F32(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define VSTORE_F32(p, v) _mm256_storeu_ps(p, _mm512_cvtpd_ps(v))
#define VSCALEF_Z(p, n, x, lo) _mm512_maskz_scalef_pd(_mm512_cmp_pd_mask(x, lo, _CMP_NLT_UQ), p, n)
#define VHMAX(v) _mm512_reduce_max_pd(v)
#define VHSUM(v) _mm512_reduce_add_pd(v)
#define VLOAD_TAIL(p, n, fill) \
    _mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << (n)) - 1u), p)
#define VSTORE_TAIL(p, v, n) _mm512_mask_storeu_pd(p, (__mmask8)((1u << (n)) - 1u), v)
#define VGATHER(p, stride)                                                                     \
    _mm512_i32gather_pd(_mm256_mullo_epi32(_mm256_set1_epi32((int)(stride)),                  \
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), p, 8)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f64__avx512(fml_attention_kernels_f64 *t)
{
    t->name = "attn_14x16_f64__avx512";
#include "attention/attention_fill_table.h"
}
#include "attention/attention_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_attention_kernels_avx512(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64)
{
    fill_f32__avx512(k32);
    fill_f64__avx512(k64);
    k32->row_gelu_erf = row_gelu_erf_f32_avx512;    /* float32 rows in float64 lanes */
}
