/* conv_avx512.c: AVX-512 pieces of csrc/conv (compiled with the avx512 flags of
 * setup.py; used only when fml_cpu_detect() says avx512).
 * Flat-pixel tile 8 channels x 48 pixels (f32; 24 zmm accumulators, 3 pixel
 * vectors, weights broadcast from memory), 8 x 24 for f64; channels-in-lanes
 * tile 14 pixels x 32 channels (scatter stores); weight-gradient tile 6 taps x
 * 64 channels (24 accumulators + 4 gradient vectors). */
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
#define ISA avx512





#define FT float
#define SFX f32
#define VT __m512
#define VL 16
#define MT __mmask16
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VZIPLO(a, b) _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19,     \
                                            4, 20, 5, 21, 6, 22, 7, 23), b)
#define VZIPHI(a, b) _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27,  \
                                            12, 28, 13, 29, 14, 30, 15, 31), b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VMASK(bits) ((__mmask16)(bits))
#define VMASKLOADU(p, m) _mm512_maskz_loadu_ps(m, p)
#define VMASKLOADU_OR(f, m, p) _mm512_mask_loadu_ps(f, m, p)
#define VMASKSTOREU(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VUPDATE(best, tv, v, pv) do {                                                  \
        const __mmask16 mk_ = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |              \
                              _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);                 \
        best = _mm512_mask_blend_ps(mk_, best, v);                                    \
        tv = _mm512_mask_blend_ps(mk_, tv, pv);                                       \
    } while (0)
#define VMAXNAN(a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) |           \
                                           _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), a, b)
#define VANYNAN(v) (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0)
#define VODD(a, b) _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, \
                                           19, 21, 23, 25, 27, 29, 31), b)
#define VEVEN(a, b) _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, \
                                            18, 20, 22, 24, 26, 28, 30), b)
#define VNEXT(a, b) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b),           \
                                                            _mm512_castps_si512(a), 1))
#define DENSE_NAME FML_FN(conv_ukr_8x48)
#define DENSE_MR 8
#define DENSE_NV 3
#define DW_NAME FML_FN(conv_ukr_1x64)
#define DW_NV 4
#define CTILE_NAME FML_FN(conv_ctile_14x32)
#define CTILE_MR 14
#define CTILE_NV 2
#define PGEMM_MR 14
#define PGEMM_NV 2
#define PGEMM_MR_SHORT 8
#define GWC_M 6
#define GWC_NV 4
#define POOL_NV 2
#include "conv/conv_isa_inst.h"
#include "conv/conv_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT __m512d
#define VL 8
#define MT __mmask8
#define VZERO() _mm512_setzero_pd()
#define VSET1(x) _mm512_set1_pd(x)
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VZIPLO(a, b) _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), b)
#define VZIPHI(a, b) _mm512_permutex2var_pd(a, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#define VMASK(bits) ((__mmask8)(bits))
#define VMASKLOADU(p, m) _mm512_maskz_loadu_pd(m, p)
#define VMASKLOADU_OR(f, m, p) _mm512_mask_loadu_pd(f, m, p)
#define VMASKSTOREU(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define VUPDATE(best, tv, v, pv) do {                                                  \
        const __mmask8 mk_ = _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ) |               \
                             _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);                  \
        best = _mm512_mask_blend_pd(mk_, best, v);                                    \
        tv = _mm512_mask_blend_pd(mk_, tv, pv);                                       \
    } while (0)
#define VMAXNAN(a, b) _mm512_mask_blend_pd(_mm512_cmp_pd_mask(b, a, _CMP_GT_OQ) |           \
                                           _mm512_cmp_pd_mask(b, b, _CMP_UNORD_Q), a, b)
#define VANYNAN(v) (_mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q) != 0)
#define VODD(a, b) _mm512_permutex2var_pd(a, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), b)
#define VEVEN(a, b) _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b)
#define VNEXT(a, b) _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(b),           \
                                                            _mm512_castpd_si512(a), 1))
#define DENSE_NAME FML_FN(conv_ukr_8x24)
#define DENSE_MR 8
#define DENSE_NV 3
#define DW_NAME FML_FN(conv_ukr_1x32)
#define DW_NV 4
#define CTILE_NAME FML_FN(conv_ctile_14x16)
#define CTILE_MR 14
#define CTILE_NV 2
#define PGEMM_MR 14
#define PGEMM_NV 2
#define PGEMM_MR_SHORT 8
#define GWC_M 6
#define GWC_NV 4
#define POOL_NV 2
#include "conv/conv_isa_inst.h"
#include "conv/conv_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_conv_kernels_avx512(fml_conv_kernels *t)
{
    t->name = "avx512";
    t->ctile_f32 = (fml_conv_ctile_desc_f32){conv_ctile_14x32_f32__avx512, 14, 32};
    t->ctile_f64 = (fml_conv_ctile_desc_f64){conv_ctile_14x16_f64__avx512, 14, 16};
    t->dense_f32 = (fml_conv_tile_f32){conv_ukr_8x48_f32__avx512, 8, 3, 16};
    t->dw_f32 = (fml_conv_tile_f32){conv_ukr_1x64_f32__avx512, 1, 4, 16};
    t->dense_f64 = (fml_conv_tile_f64){conv_ukr_8x24_f64__avx512, 8, 3, 8};
    t->dw_f64 = (fml_conv_tile_f64){conv_ukr_1x32_f64__avx512, 1, 4, 8};
    t->pgemm_f32 = (fml_conv_pgemm_desc_f32){conv_pgemm_f32__avx512, conv_pgemm_pack_f32__avx512, 14,
                                                32, conv_pgemm_short_f32__avx512, 8};
    t->pgemm_f64 = (fml_conv_pgemm_desc_f64){conv_pgemm_f64__avx512, conv_pgemm_pack_f64__avx512, 14,
                                                16, conv_pgemm_short_f64__avx512, 8};
    t->pool_max_f32 = pool_max_f32__avx512;
    t->pool_max_f64 = pool_max_f64__avx512;
    t->pool_max_rows_f32 = pool_max_rows_f32__avx512;
    t->pool_max_rows_f64 = pool_max_rows_f64__avx512;
    t->pool_nv = 2;
    t->gwc_f32 = conv_gwc_f32__avx512;
    t->gwc_f64 = conv_gwc_f64__avx512;
    t->gwc_m = 6;
    t->gwc_nr_f32 = 64;
    t->gwc_nr_f64 = 32;
    t->affine_row_f32 = affine_row_f32__avx512;
    t->affine_row_f64 = affine_row_f64__avx512;
    t->dw_rows_f32 = conv_dw_rows_f32__avx512;
    t->dw_rows_f64 = conv_dw_rows_f64__avx512;
    t->dw_rows3_f32 = conv_dw_rows3_f32__avx512;
    t->dw_rows3_f64 = conv_dw_rows3_f64__avx512;
    t->dw_flat = 0;
    t->wino_copy_f32 = wino_copy_f32__avx512;
    t->wino_copy_f64 = wino_copy_f64__avx512;
    t->wino_in_f32 = wino_in_f32__avx512;
    t->wino_in_f64 = wino_in_f64__avx512;
    t->wino_out_f32 = wino_out_f32__avx512;
    t->wino_out_f64 = wino_out_f64__avx512;
    t->wino2_in_f32 = wino2_in_f32__avx512;
    t->wino2_in_f64 = wino2_in_f64__avx512;
    t->wino2_out_f32 = wino2_out_f32__avx512;
    t->wino2_out_f64 = wino2_out_f64__avx512;
    t->copy_band_f32 = copy_band_f32__avx512;
    t->copy_band_f64 = copy_band_f64__avx512;
}
