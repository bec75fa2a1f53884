/* trees_bin_impl.h: dtype-generic binning (no include guard; expects FT, SFX).
 * Included by trees_bin.c once for float and once for double. */

/* Keys of features f0..f0+G-1 at the sample rows, NaN dropped: one pass over
 * the rows for the group (a row's values share cache lines), nv[g] per feature. */
static void FML_T(collect_keys)(const FT *restrict x, int64_t rs, int64_t cs, int64_t f0, int G,
                                const int64_t *restrict sample, int64_t n_sample,
                                uint64_t *restrict keys, int64_t *restrict nv)
{
    for (int g = 0; g < G; g++) nv[g] = 0;
    for (int64_t i = 0; i < n_sample; i++) {
        const FT *restrict xi = x + sample[i] * rs + f0 * cs;
        for (int g = 0; g < G; g++) {
            const double v = (double)xi[g * cs];
            keys[g * n_sample + nv[g]] = double_key(v);
            nv[g] += v == v;
        }
    }
}

int FML_T(fml_tree_bin_fit)(const FT *x, int64_t rs, int64_t cs, int64_t n_features,
                            const int64_t *sample, int64_t n_sample, int64_t max_bins,
                            double *thresholds, int32_t *n_bins, int64_t n_threads)
{
    if (max_bins < 2 || max_bins > FML_TREE_MAX_BINS) return FML_EINVAL;
    const int64_t n_groups = (n_features + BIN_FIT_GROUP - 1) / BIN_FIT_GROUP;
    const int nt = fml_threads_for(n_threads, n_groups, (double)n_sample * (double)n_features,
                                   50000.0);
    int err = FML_OK;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
    {
        const size_t n = (size_t)(n_sample > 0 ? n_sample : 1);
        /* per-thread cached scratch: refitting does not fault pages in again */
        uint64_t *keys = (uint64_t *)fml_scratch_thread(0, BIN_FIT_GROUP * n * sizeof(uint64_t));
        uint64_t *tmp = (uint64_t *)fml_scratch_thread(1, n * sizeof(uint64_t));
        double *vals = (double *)fml_scratch_thread(2, n * sizeof(double));
        const int ok = keys && tmp && vals;
        if (!ok) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t gi = 0; gi < n_groups; gi++) {
            if (!ok) continue;
            const int64_t f0 = gi * BIN_FIT_GROUP;
            const int G = (int)FML_MIN(BIN_FIT_GROUP, n_features - f0);
            int64_t nv[BIN_FIT_GROUP];
            FML_T(collect_keys)(x, rs, cs, f0, G, sample, n_sample, keys, nv);
            for (int g = 0; g < G; g++) {
                uint64_t *k = keys + g * n_sample;
                radix_sort_u64(k, tmp, nv[g]);
                for (int64_t i = 0; i < nv[g]; i++) vals[i] = key_double(k[i]);
                n_bins[f0 + g] = thresholds_from_sorted(vals, nv[g], max_bins,
                                                        thresholds + (f0 + g) * FML_TREE_N_SLOTS);
            }
        }
    }
    return err;
}

int FML_T(fml_tree_bin_transform)(const FT *x, int64_t rs, int64_t cs, int64_t n_samples,
                                  int64_t n_features, const double *thresholds, uint8_t *bins,
                                  int64_t ldb, int64_t n_threads)
{
    const int64_t n_blocks = (n_samples + BIN_BLOCK - 1) / BIN_BLOCK;
    const int nt = fml_threads_for(n_threads, n_blocks, (double)n_samples * (double)n_features,
                                   100000.0);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        const int64_t i0 = blk * BIN_BLOCK, i1 = FML_MIN(n_samples, i0 + BIN_BLOCK);
        double v[BIN_BLOCK];
        for (int64_t f = 0; f < n_features; f++) {
            const FT *restrict xf = x + f * cs;
            for (int64_t i = i0; i < i1; i++) v[i - i0] = (double)xf[i * rs];
            fml_trees_k.bin_values(v, i1 - i0, thresholds + f * FML_TREE_N_SLOTS, bins + f * ldb + i0);
        }
    }
    return FML_OK;
}
