/* trees_split.c: portable split scans, the SIMD dispatch table of the trees
 * family, and the no-split score of a node.  The scan bodies are in
 * trees_split_impl.h (AVX2 / AVX-512 builds in trees_split_avx2.c / _avx512.c). */
#include <math.h>

#include "core/fml_cpu.h"
#include "core/fml_dtype.h"
#include "trees/trees_internal.h"

#define ISA scalar
#define SFX f64
#include "trees/trees_split_impl.h"
#undef SFX
#undef ISA

/* Number of thresholds below v by a branch-free binary search over the 256
 * padded thresholds (8 steps); NaN -> 255. */
static inline uint8_t bin_of(double v, const double *restrict t)
{
    int64_t idx = 0;
    idx += (v > t[idx + 127]) ? 128 : 0;
    idx += (v > t[idx + 63]) ? 64 : 0;
    idx += (v > t[idx + 31]) ? 32 : 0;
    idx += (v > t[idx + 15]) ? 16 : 0;
    idx += (v > t[idx + 7]) ? 8 : 0;
    idx += (v > t[idx + 3]) ? 4 : 0;
    idx += (v > t[idx + 1]) ? 2 : 0;
    idx += (v > t[idx]) ? 1 : 0;
    return v == v ? (uint8_t)idx : (uint8_t)FML_TREE_MISSING_BIN;
}

static void bin_values_scalar(const double *restrict v, int64_t n, const double *restrict t,
                              uint8_t *restrict out)
{
    for (int64_t i = 0; i < n; i++) out[i] = bin_of(v[i], t);
}

void fml_trees_kernels_scalar(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"scalar", scan_xgb_f64__scalar, scan_gini_f64__scalar,
                             scan_entropy_f64__scalar, bin_values_scalar};
}

fml_trees_kernels fml_trees_k = {"scalar", scan_xgb_f64__scalar, scan_gini_f64__scalar,
                                 scan_entropy_f64__scalar, bin_values_scalar};

int fml_trees_init(int level)
{
    const int best = fml_cpu_detect();
    if (level > best) level = best;
#if (defined(__x86_64__) || defined(__i386__)) && !defined(FML_NO_X86_SIMD)
    if (level >= FML_SIMD_AVX512) {
        fml_trees_kernels_avx512(&fml_trees_k);
        return FML_SIMD_AVX512;
    }
    if (level >= FML_SIMD_AVX2) {
        fml_trees_kernels_avx2(&fml_trees_k);
        return FML_SIMD_AVX2;
    }
#endif
    fml_trees_kernels_scalar(&fml_trees_k);
    return FML_SIMD_SCALAR;
}

static double xlogx(double x) { return x > 0 ? x * log(x) : 0.0; }

double fml_tree_parent_score(int criterion, const fml_scan_ctx *ctx)
{
    const double *T = ctx->total;
    if (criterion == FML_TREE_XGB) {
        const double d = T[1] + ctx->lambda;
        return d > 0 ? T[0] * T[0] / d : 0.0;
    }
    double W = 0;
    for (int32_t k = 0; k < ctx->n_classes; k++) W += T[k];
    if (criterion == FML_TREE_GINI) {
        double s = 0;
        for (int32_t k = 0; k < ctx->n_classes; k++) s += T[k] * T[k];
        return W > 0 ? s / W : 0.0;
    }
    double s = -xlogx(W);
    for (int32_t k = 0; k < ctx->n_classes; k++) s += xlogx(T[k]);
    return s;
}
