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

/* Leaves of rows xs[0..LANES) (row k at x + rows[k] * rs): the walks of LANES
 * rows advance together one level per step, with selects instead of branches,
 * so the node -> feature value -> compare latency chains of different rows
 * overlap.  A row at a leaf stays there until every row is at one. */
static inline void FML_T(leaves_of)(const fml_tree_node *restrict t, const FT *restrict x,
                                    int64_t rs, int64_t cs, int64_t i0, int64_t *restrict leaf)
{
    int64_t idx[PREDICT_LANES];
    const FT *xr[PREDICT_LANES];
    for (int k = 0; k < PREDICT_LANES; k++) {
        idx[k] = 0;
        xr[k] = x + (i0 + k) * rs;
    }
    for (;;) {
        int moving = 0;
        for (int k = 0; k < PREDICT_LANES; k++) {
            const fml_tree_node *nd = &t[idx[k]];
            const int32_t f = nd->feature;
            const int inner = f >= 0;
            const double v = (double)xr[k][(inner ? f : 0) * cs];
            const int go_left = v == v ? v <= nd->threshold : nd->missing_left;
            const int64_t next = (int64_t)nd->left + (go_left ? 0 : 1);
            idx[k] = inner ? next : idx[k];
            moving |= inner;
        }
        if (!moving) break;
    }
    for (int k = 0; k < PREDICT_LANES; k++) leaf[k] = idx[k];
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
        const int64_t i_vec = i0 + (i1 - i0) / PREDICT_LANES * PREDICT_LANES;
        for (int64_t t = 0; t < n_trees; t++) {      /* the tree stays in cache for the block */
            const fml_tree_node *restrict tree = nodes + offsets[t];
            const double *restrict tv = values ? values + offsets[t] * n_out : NULL;
            const int64_t kcol = t % n_out;
            int64_t leaf[PREDICT_LANES];
            for (int64_t i = i0; i < i1; i += PREDICT_LANES) {
                const int64_t nl = i < i_vec ? PREDICT_LANES : i1 - i;
                if (nl == PREDICT_LANES) {
                    FML_T(leaves_of)(tree, x, rs, cs, i, leaf);
                } else {
                    for (int64_t k = 0; k < nl; k++) leaf[k] = FML_T(leaf_of)(tree, x + (i + k) * rs, cs);
                }
                if (tv == NULL) {
                    for (int64_t k = 0; k < nl; k++) out[(i + k) * n_out + kcol] += scale * tree[leaf[k]].value;
                } else {
                    for (int64_t k = 0; k < nl; k++)
                        for (int64_t c = 0; c < n_out; c++)
                            out[(i + k) * n_out + c] += scale * tv[leaf[k] * n_out + c];
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
