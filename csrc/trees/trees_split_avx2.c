/* trees_split_avx2.c: the split scans of trees_split_impl.h compiled for avx2
 * (flags from setup.py; only called when fml_cpu_detect() reports avx2). */
#include "core/fml_dtype.h"
#include "trees/trees_internal.h"

#define ISA avx2
#define SFX f64
#include "trees/trees_split_impl.h"
#undef SFX
#undef ISA

void fml_trees_kernels_avx2(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"avx2", scan_xgb_f64__avx2, scan_gini_f64__avx2,
                             scan_entropy_f64__avx2};
}
