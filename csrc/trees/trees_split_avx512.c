/* trees_split_avx512.c: the split scans of trees_split_impl.h compiled for avx512
 * with the binning kernel (flags from setup.py; only called when fml_cpu_detect()
 * reports avx512). */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "trees/trees_internal.h"

#define ISA avx512
#define SFX f64
#include "trees/trees_split_impl.h"
#undef SFX
#undef ISA

/* Two-level count of the thresholds below each value: the 16 thresholds
 * t[16k + 15] (two vectors) give the block, the 16 of the block give the rest. */
static void bin_values_avx512(const double *restrict v, int64_t n, const double *restrict t,
                              uint8_t *restrict out)
{
    const __m512d c0 = _mm512_set_pd(t[127], t[111], t[95], t[79], t[63], t[47], t[31], t[15]);
    const __m512d c1 = _mm512_set_pd(t[255], t[239], t[223], t[207], t[191], t[175], t[159], t[143]);
    for (int64_t i = 0; i < n; i++) {
        const __m512d x = _mm512_set1_pd(v[i]);
        const unsigned q = (unsigned)__builtin_popcount(_mm512_cmp_pd_mask(c0, x, _CMP_LT_OQ)) +
                           (unsigned)__builtin_popcount(_mm512_cmp_pd_mask(c1, x, _CMP_LT_OQ));
        const unsigned blk = q < 15 ? q : 15;      /* t[255] is +inf: q <= 15 for numbers */
        const double *tb = t + 16 * blk;
        const unsigned c = (unsigned)__builtin_popcount(_mm512_cmp_pd_mask(_mm512_loadu_pd(tb), x, _CMP_LT_OQ)) +
                           (unsigned)__builtin_popcount(_mm512_cmp_pd_mask(_mm512_loadu_pd(tb + 8), x, _CMP_LT_OQ));
        out[i] = v[i] == v[i] ? (uint8_t)(16 * blk + c) : (uint8_t)FML_TREE_MISSING_BIN;
    }
}

void fml_trees_kernels_avx512(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"avx512", scan_xgb_f64__avx512, scan_gini_f64__avx512,
                             scan_entropy_f64__avx512, bin_values_avx512};
}
