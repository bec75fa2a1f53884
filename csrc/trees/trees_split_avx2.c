/* trees_split_avx2.c: the split scans of trees_split_impl.h compiled for avx2
 * with the binning kernel (flags from setup.py; only called when fml_cpu_detect()
 * reports avx2). */
#include <immintrin.h>

#include "core/fml_dtype.h"
#include "trees/trees_internal.h"

#define ISA avx2
#define SFX f64
#include "trees/trees_split_impl.h"
#undef SFX
#undef ISA

/* Two-level count of the thresholds below each value: the 16 thresholds
 * t[16k + 15] (four vectors) give the block, the 16 of the block give the rest. */
static void bin_values_avx2(const double *restrict v, int64_t n, const double *restrict t,
                            uint8_t *restrict out)
{
    const __m256d c0 = _mm256_set_pd(t[63], t[47], t[31], t[15]);
    const __m256d c1 = _mm256_set_pd(t[127], t[111], t[95], t[79]);
    const __m256d c2 = _mm256_set_pd(t[191], t[175], t[159], t[143]);
    const __m256d c3 = _mm256_set_pd(t[255], t[239], t[223], t[207]);
    for (int64_t i = 0; i < n; i++) {
        const __m256d x = _mm256_set1_pd(v[i]);
        const int m = _mm256_movemask_pd(_mm256_cmp_pd(c0, x, _CMP_LT_OQ)) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(c1, x, _CMP_LT_OQ)) << 4) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(c2, x, _CMP_LT_OQ)) << 8) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(c3, x, _CMP_LT_OQ)) << 12);
        const unsigned q = (unsigned)__builtin_popcount((unsigned)m);
        const unsigned blk = q < 15 ? q : 15;      /* t[255] is +inf: q <= 15 for numbers */
        const double *tb = t + 16 * blk;
        const int f = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(tb), x, _CMP_LT_OQ)) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(tb + 4), x, _CMP_LT_OQ)) << 4) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(tb + 8), x, _CMP_LT_OQ)) << 8) |
                      (_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(tb + 12), x, _CMP_LT_OQ)) << 12);
        const unsigned c = (unsigned)__builtin_popcount((unsigned)f);
        out[i] = v[i] == v[i] ? (uint8_t)(16 * blk + c) : (uint8_t)FML_TREE_MISSING_BIN;
    }
}

void fml_trees_kernels_avx2(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"avx2", scan_xgb_f64__avx2, scan_gini_f64__avx2,
                             scan_entropy_f64__avx2, bin_values_avx2};
}
