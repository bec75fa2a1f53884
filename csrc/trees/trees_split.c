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

void fml_trees_kernels_scalar(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"scalar", scan_xgb_f64__scalar, scan_gini_f64__scalar,
                             scan_entropy_f64__scalar};
}

fml_trees_kernels fml_trees_k = {"scalar", scan_xgb_f64__scalar, scan_gini_f64__scalar,
                                 scan_entropy_f64__scalar};

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
