/* trees_bin_impl.h: dtype-generic binning (no include guard; expects FT, SFX).
 * Included by trees_bin.c once for float and once for double. */

/* Values of feature f at the sample rows, NaN dropped, as sorted doubles. */
static int64_t FML_T(collect_sorted)(const FT *restrict x, int64_t rs, int64_t cs, int64_t f,
                                     const int64_t *restrict sample, int64_t n_sample,
                                     uint64_t *restrict keys, uint64_t *restrict tmp,
                                     double *restrict out)
{
    int64_t nv = 0;
    for (int64_t i = 0; i < n_sample; i++) {
        const double v = (double)x[sample[i] * rs + f * cs];
        if (v == v) keys[nv++] = double_key(v);
    }
    radix_sort_u64(keys, tmp, nv);
    for (int64_t i = 0; i < nv; i++) out[i] = key_double(keys[i]);
    return nv;
}

int FML_T(fml_tree_bin_fit)(const FT *x, int64_t rs, int64_t cs, int64_t n_features,
                            const int64_t *sample, int64_t n_sample, int64_t max_bins,
                            double *thresholds, int32_t *n_bins, int64_t n_threads)
{
    if (max_bins < 2 || max_bins > FML_TREE_MAX_BINS) return FML_EINVAL;
    const int nt = fml_threads_for(n_threads, n_features, (double)n_sample * (double)n_features,
                                   50000.0);
    int err = FML_OK;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
    {
        const size_t n = (size_t)(n_sample > 0 ? n_sample : 1);
        uint64_t *keys = (uint64_t *)fml_scratch_alloc(n * sizeof(uint64_t));
        uint64_t *tmp = (uint64_t *)fml_scratch_alloc(n * sizeof(uint64_t));
        double *vals = (double *)fml_scratch_alloc(n * sizeof(double));
        const int ok = keys && tmp && vals;
        if (!ok) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t f = 0; f < n_features; f++) {
            if (!ok) continue;
            const int64_t nv = FML_T(collect_sorted)(x, rs, cs, f, sample, n_sample, keys, tmp, vals);
            n_bins[f] = thresholds_from_sorted(vals, nv, max_bins, thresholds + f * FML_TREE_N_SLOTS);
        }
        fml_scratch_free(keys);
        fml_scratch_free(tmp);
        fml_scratch_free(vals);
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
        for (int64_t f = 0; f < n_features; f++) {
            const double *restrict t = thresholds + f * FML_TREE_N_SLOTS;
            const FT *restrict xf = x + f * cs;
            uint8_t *restrict out = bins + f * ldb;
            for (int64_t i = i0; i < i1; i++) out[i] = bin_of((double)xf[i * rs], t);
        }
    }
    return FML_OK;
}
