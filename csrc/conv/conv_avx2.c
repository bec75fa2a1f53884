/* conv_avx2.c: AVX2+FMA pieces of csrc/conv (16 ymm registers).
 * Dense tile 4 channels x 24 pixels (f32; 12 accumulators + 3 pixel vectors +
 * 1 broadcast), 4 x 12 for f64; depthwise tile 1 x 32 (f32); packed-pixel tile
 * 6 x 16 (f32), 6 x 8 (f64), the GEMM core's shape. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "conv/conv_kernels.h"

/* Python's build flags add -fwrapv; these loops index with signed int64 and
 * run faster with the ordinary (undefined) overflow rules (measured: zero-copy
 * 1x1, 256 -> 64 channels at 56x56, 155 -> 171 GFLOP/s). */
#pragma GCC optimize("no-wrapv")
#define ISA avx2

static inline __m256i mask8_avx2(uint32_t bits)
{
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), sel), sel);
}

static inline __m256i mask4_avx2(uint32_t bits)
{
    const __m256i sel = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x((long long)bits), sel), sel);
}

#define FT float
#define SFX f32
#define VT __m256
#define VL 8
#define MT __m256i
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VZIPLO(a, b) _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20)
#define VZIPHI(a, b) _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VANDM(v, m) _mm256_and_ps(v, _mm256_loadu_ps(m))
#define VMASK(bits) mask8_avx2(bits)
#define VMASKLOADU(p, m) _mm256_maskload_ps(p, m)
#define VMASKLOADU_OR(f, m, p) _mm256_blendv_ps(f, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m))
#define VMASKSTOREU(p, m, v) _mm256_maskstore_ps(p, m, v)
#define VUPDATE(best, tv, v, pv) do {                                                  \
        const __m256 mk_ = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),          \
                                        _mm256_cmp_ps(v, v, _CMP_UNORD_Q));          \
        best = _mm256_blendv_ps(best, v, mk_);                                        \
        tv = _mm256_blendv_ps(tv, pv, mk_);                                           \
    } while (0)
#define VMAXNAN(a, b) _mm256_blendv_ps(a, b, _mm256_or_ps(_mm256_cmp_ps(b, a, _CMP_GT_OQ),       \
                                                          _mm256_cmp_ps(b, b, _CMP_UNORD_Q)))
#define VANYNAN(v) (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0)
#define VODD(a, b) _mm256_castpd_ps(_mm256_permute4x64_pd(                                 \
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8))
#define VEVEN(a, b) _mm256_castpd_ps(_mm256_permute4x64_pd(                                \
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8))
#define VNEXT(a, b) _mm256_castsi256_ps(_mm256_alignr_epi8(                                \
        _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21)), _mm256_castps_si256(a), 4))
#define DENSE_NAME FML_FN(conv_ukr_4x24)
#define DENSE_MR 4
#define DENSE_NV 3
#define DW_NAME FML_FN(conv_ukr_1x32)
#define DW_NV 4
#define CTILE_NAME FML_FN(conv_ctile_6x16)
#define CTILE_MR 6
#define CTILE_NV 2
#define PGEMM_MR 6
#define PGEMM_NV 2
#define PGEMM_MR_SHORT 4
#define GWC_M 4
#define GWC_NV 3
#define POOL_NV 2
#include "conv/conv_isa_inst.h"
#include "conv/conv_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m256d
#define VL 4
#define MT __m256i
#define VZERO() _mm256_setzero_pd()
#define VSET1(x) _mm256_set1_pd(x)
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VZIPLO(a, b) _mm256_permute2f128_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), 0x20)
#define VZIPHI(a, b) _mm256_permute2f128_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), 0x31)
#define VMAX(a, b) _mm256_max_pd(a, b)
#define VANDM(v, m) _mm256_and_pd(v, _mm256_loadu_pd(m))
#define VMASK(bits) mask4_avx2(bits)
#define VMASKLOADU(p, m) _mm256_maskload_pd(p, m)
#define VMASKLOADU_OR(f, m, p) _mm256_blendv_pd(f, _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m))
#define VMASKSTOREU(p, m, v) _mm256_maskstore_pd(p, m, v)
#define VUPDATE(best, tv, v, pv) do {                                                  \
        const __m256d mk_ = _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ),         \
                                         _mm256_cmp_pd(v, v, _CMP_UNORD_Q));         \
        best = _mm256_blendv_pd(best, v, mk_);                                        \
        tv = _mm256_blendv_pd(tv, pv, mk_);                                           \
    } while (0)
#define VMAXNAN(a, b) _mm256_blendv_pd(a, b, _mm256_or_pd(_mm256_cmp_pd(b, a, _CMP_GT_OQ),       \
                                                          _mm256_cmp_pd(b, b, _CMP_UNORD_Q)))
#define VANYNAN(v) (_mm256_movemask_pd(_mm256_cmp_pd(v, v, _CMP_UNORD_Q)) != 0)
#define VODD(a, b) _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8)
#define VEVEN(a, b) _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8)
#define VNEXT(a, b) _mm256_castsi256_pd(_mm256_alignr_epi8(                                \
        _mm256_castpd_si256(_mm256_permute2f128_pd(a, b, 0x21)), _mm256_castpd_si256(a), 8))
#define DENSE_NAME FML_FN(conv_ukr_4x12)
#define DENSE_MR 4
#define DENSE_NV 3
#define DW_NAME FML_FN(conv_ukr_1x16)
#define DW_NV 4
#define CTILE_NAME FML_FN(conv_ctile_6x8)
#define CTILE_MR 6
#define CTILE_NV 2
#define PGEMM_MR 6
#define PGEMM_NV 2
#define PGEMM_MR_SHORT 4
#define GWC_M 4
#define GWC_NV 3
#define POOL_NV 2
#include "conv/conv_isa_inst.h"
#include "conv/conv_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_conv_kernels_avx2(fml_conv_kernels *t)
{
    t->name = "avx2";
    t->ctile_f32 = (fml_conv_ctile_desc_f32){conv_ctile_6x16_f32__avx2, 6, 16};
    t->ctile_f64 = (fml_conv_ctile_desc_f64){conv_ctile_6x8_f64__avx2, 6, 8};
    t->dense_f32 = (fml_conv_tile_f32){conv_ukr_4x24_f32__avx2, 4, 3, 8};
    t->dw_f32 = (fml_conv_tile_f32){conv_ukr_1x32_f32__avx2, 1, 4, 8};
    t->dense_f64 = (fml_conv_tile_f64){conv_ukr_4x12_f64__avx2, 4, 3, 4};
    t->dw_f64 = (fml_conv_tile_f64){conv_ukr_1x16_f64__avx2, 1, 4, 4};
    t->pgemm_f32 = (fml_conv_pgemm_desc_f32){conv_pgemm_f32__avx2, conv_pgemm_pack_f32__avx2, 6, 16,
                                                conv_pgemm_short_f32__avx2, 4};
    t->pgemm_f64 = (fml_conv_pgemm_desc_f64){conv_pgemm_f64__avx2, conv_pgemm_pack_f64__avx2, 6, 8,
                                                conv_pgemm_short_f64__avx2, 4};
    t->pool_max_f32 = pool_max_f32__avx2;
    t->pool_max_f64 = pool_max_f64__avx2;
    t->pool_max_rows_f32 = pool_max_rows_f32__avx2;
    t->pool_max_rows_f64 = pool_max_rows_f64__avx2;
    t->pool_nv = 2;
    t->gwc_f32 = conv_gwc_f32__avx2;
    t->gwc_f64 = conv_gwc_f64__avx2;
    t->gwc_m = 4;
    t->gwc_nr_f32 = 24;
    t->gwc_nr_f64 = 12;
    t->affine_row_f32 = affine_row_f32__avx2;
    t->affine_row_f64 = affine_row_f64__avx2;
    t->dw_rows_f32 = conv_dw_rows_f32__avx2;
    t->dw_rows_f64 = conv_dw_rows_f64__avx2;
    t->dw_rows3_f32 = conv_dw_rows3_f32__avx2;
    t->dw_rows3_f64 = conv_dw_rows3_f64__avx2;
    t->dw_flat = 1;
    t->wino_copy_f32 = wino_copy_f32__avx2;
    t->wino_copy_f64 = wino_copy_f64__avx2;
    t->wino_in_f32 = wino_in_f32__avx2;
    t->wino_in_f64 = wino_in_f64__avx2;
    t->wino_out_f32 = wino_out_f32__avx2;
    t->wino_out_f64 = wino_out_f64__avx2;
    t->wino2_in_f32 = wino2_in_f32__avx2;
    t->wino2_in_f64 = wino2_in_f64__avx2;
    t->wino2_out_f32 = wino2_out_f32__avx2;
    t->wino2_out_f64 = wino2_out_f64__avx2;
    t->copy_band_f32 = copy_band_f32__avx2;
    t->copy_band_f64 = copy_band_f64__avx2;
}
