/* trees_predict_impl.h: dtype-generic tree traversal on raw X (no include
 * guard; expects FT, SFX).  Included by trees_predict.c for float and double. */

/* Leaf index (within the tree) of row xi (xi[f * cs] is feature f). */
static inline int64_t FML_T(leaf_of)(const fml_tree_node *restrict t, const FT *restrict xi,
                                     int64_t cs)
{
    int64_t i = 0;
    while (t[i].feature >= 0) {
        const double v = (double)xi[t[i].feature * cs];
        const int go_left = v == v ? v <= t[i].threshold : t[i].missing_left;
        i = t[i].left + (go_left ? 0 : 1);
    }
    return i;
}

int FML_T(fml_tree_predict)(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                            const double *values, int64_t n_out, double scale, const FT *x,
                            int64_t rs, int64_t cs, int64_t n_samples, double *out,
                            int64_t n_threads)
{
    const int64_t n_blocks = (n_samples + PREDICT_BLOCK - 1) / PREDICT_BLOCK;
    const int nt = fml_threads_for(n_threads, n_blocks, (double)n_samples * (double)n_trees, 20000.0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const int64_t i0 = blk * PREDICT_BLOCK, i1 = FML_MIN(n_samples, i0 + PREDICT_BLOCK);
        for (int64_t t = 0; t < n_trees; t++) {      /* the tree stays in cache for the block */
            const fml_tree_node *restrict tree = nodes + offsets[t];
            if (values == NULL) {
                const int64_t k = t % n_out;
                for (int64_t i = i0; i < i1; i++) {
                    const int64_t leaf = FML_T(leaf_of)(tree, x + i * rs, cs);
                    out[i * n_out + k] += scale * tree[leaf].value;
                }
            } else {
                const double *restrict tv = values + offsets[t] * n_out;
                for (int64_t i = i0; i < i1; i++) {
                    const int64_t leaf = FML_T(leaf_of)(tree, x + i * rs, cs);
                    for (int64_t k = 0; k < n_out; k++) out[i * n_out + k] += scale * tv[leaf * n_out + k];
                }
            }
        }
    }
    return FML_OK;
}

int FML_T(fml_tree_apply)(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                          const FT *x, int64_t rs, int64_t cs, int64_t n_samples, int32_t *leaves,
                          int64_t n_threads)
{
    const int64_t n_blocks = (n_samples + PREDICT_BLOCK - 1) / PREDICT_BLOCK;
    const int nt = fml_threads_for(n_threads, n_blocks, (double)n_samples * (double)n_trees, 20000.0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const int64_t i0 = blk * PREDICT_BLOCK, i1 = FML_MIN(n_samples, i0 + PREDICT_BLOCK);
        for (int64_t t = 0; t < n_trees; t++) {
            const fml_tree_node *restrict tree = nodes + offsets[t];
            for (int64_t i = i0; i < i1; i++)
                leaves[i * n_trees + t] = (int32_t)FML_T(leaf_of)(tree, x + i * rs, cs);
        }
    }
    return FML_OK;
}
