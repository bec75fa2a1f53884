/* trees_split_avx512.c: the split scans of trees_split_impl.h compiled for avx512
 * (flags from setup.py; only called when fml_cpu_detect() reports avx512). */
#include "core/fml_dtype.h"
#include "trees/trees_internal.h"

#define ISA avx512
#define SFX f64
#include "trees/trees_split_impl.h"
#undef SFX
#undef ISA

void fml_trees_kernels_avx512(fml_trees_kernels *k)
{
    *k = (fml_trees_kernels){"avx512", scan_xgb_f64__avx512, scan_gini_f64__avx512,
                             scan_entropy_f64__avx512};
}
