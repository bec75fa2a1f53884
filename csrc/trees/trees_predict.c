/* trees_predict.c: prediction from the flat array-of-nodes layout.
 *
 * Rows are taken in blocks of PREDICT_BLOCK; for a block every tree is walked
 * for every row before the next tree, so a tree's nodes stay in L1 and the
 * block of X in L2.  Blocks are the parallel tasks; each row's sum runs over the
 * trees in order, so results do not depend on the thread count.  NaN goes where
 * the split learned (missing_left).  Binned prediction (training rows left out
 * of a subsample, validation rows of early stopping) walks the same nodes with
 * "bin <= node.bin", bin 255 for NaN. */
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_threads.h"
#include "trees/trees.h"

#define PREDICT_BLOCK 256
#define PREDICT_LANES 8     /* rows walked together */

#define FT float
#define SFX f32
#include "trees/trees_predict_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "trees/trees_predict_impl.h"
#include "core/fml_dtype_end.h"

int fml_tree_predict_binned(const fml_tree_node *nodes, const uint8_t *bins, int64_t ldb,
                            int64_t n_samples, double *out, int64_t n_out, int64_t k,
                            int64_t n_threads)
{
    const int nt = fml_threads_for(n_threads, 64, (double)n_samples, 20000.0);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n_samples; i++) {
        int64_t j = 0;
        while (nodes[j].feature >= 0) {
            const uint8_t b = bins[(int64_t)nodes[j].feature * ldb + i];
            const int go_left = b == FML_TREE_MISSING_BIN ? nodes[j].missing_left : b <= nodes[j].bin;
            j = nodes[j].left + (go_left ? 0 : 1);
        }
        out[i * n_out + k] += nodes[j].value;
    }
    return FML_OK;
}

int fml_tree_add_leaf_values(const fml_tree_node *nodes, int64_t n_nodes,
                             const int64_t *node_start, const int32_t *rows, double *out,
                             int64_t n_out, int64_t k, int64_t n_threads)
{
    const int nt = fml_threads_for(n_threads, n_nodes, (double)nodes[0].count, 50000.0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t l = 0; l < n_nodes; l++) {
        if (nodes[l].feature >= 0) continue;
        const double v = nodes[l].value;
        const int32_t *restrict r = rows + node_start[l];
        for (int64_t j = 0; j < nodes[l].count; j++) out[(int64_t)r[j] * n_out + k] += v;
    }
    return FML_OK;
}
