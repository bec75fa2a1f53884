/* trees_internal.h: what the files of csrc/trees share (not part of the C API).
 *
 * The split scans are the SIMD-level-dependent part (their score loops have two
 * divisions per candidate and vectorise); they live in trees_split_impl.h and
 * are compiled once per level (trees_split.c, trees_split_avx2.c,
 * trees_split_avx512.c) into the table fml_trees_kernels, with the binning of
 * values (a branch-free binary search; with AVX2 / AVX-512 a two-level count of
 * the thresholds below each value with vector compares). */
#ifndef FML_TREES_INTERNAL_H
#define FML_TREES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "trees/trees.h"

/* Node totals and limits a scan needs. */
typedef struct {
    const double *total;      /* node sums per channel (XGB: G, H; class: w per class [, count]) */
    double count;             /* rows in the node */
    double lambda;            /* XGB */
    double min_child_weight;
    double min_samples_leaf;
    int32_t hessian_is_count; /* XGB: sum h is the count */
    int32_t n_classes;        /* class criteria */
    int32_t weighted;         /* class criteria: channel n_classes is the count */
    double *scratch;          /* FML_SCAN_SCRATCH(n_channels) doubles of the calling thread */
} fml_scan_ctx;

/* Scratch doubles one scan needs: prefix sums and scores, and a compact copy of
 * the histogram for small nodes. */
#define FML_SCAN_SCRATCH(C) ((2 * (C) + 6) * 256)

/* Best split of one feature: the candidate with the largest score (first one on
 * ties), score = -inf when none is allowed.  Split "after bin b" sends bins
 * <= b left; missing values go left when missing_left.  left: channel sums of
 * the left child (n_channels values).  Without missing values in the node
 * missing_left is 0 and the grower sends NaN to the larger child. */
typedef struct {
    double score;
    int32_t bin;
    int32_t missing_left;
    int32_t has_missing;      /* the node has rows in the missing bin */
} fml_scan_result;

/* hf: one feature's histogram (256 x n_channels); nb: bins holding values. */
typedef void (*fml_scan_fn)(const double *hf, int32_t nb, const fml_scan_ctx *ctx,
                            fml_scan_result *res, double *left);

/* out[i] = bin of v[i] (number of thresholds < v[i], 255 for NaN); t: 256
 * thresholds padded with +inf. */
typedef void (*fml_bin_fn)(const double *v, int64_t n, const double *t, uint8_t *out);

typedef struct {
    const char *name;
    fml_scan_fn scan_xgb;
    fml_scan_fn scan_gini;
    fml_scan_fn scan_entropy;
    fml_bin_fn bin_values;
} fml_trees_kernels;

extern fml_trees_kernels fml_trees_k;

void fml_trees_kernels_scalar(fml_trees_kernels *k);
void fml_trees_kernels_avx2(fml_trees_kernels *k);
void fml_trees_kernels_avx512(fml_trees_kernels *k);

/* Score of a node with no split, in the units of the scans (the gain of a
 * split is score(split) - fml_tree_parent_score(...), times 0.5 for XGB and
 * divided by ln 2 for entropy). */
double fml_tree_parent_score(int criterion, const fml_scan_ctx *ctx);

/* ---- histogram kernels (trees_hist.c) ------------------------------------ */

/* The rows of one node and their inputs, in row order (position j < m):
 *   rows[j] (NULL: row j), XGB: og[2j], og[2j+1] = (g, h) (with const_h: g at
 *   og[j * og_stride], h = 1); class: oc[j] class,
 *   ow[j] weight (NULL: 1), C channels (K, or K + 1 with a count when weighted). */
typedef struct {
    int kind;                  /* 0: XGB, 1: class */
    int weighted;
    int64_t C;
    const uint8_t *bins;
    int64_t n_samples;
    const int32_t *rows;
    int64_t m;
    const double *og;
    int const_h;               /* XGB: every h is 1; og holds g only, at og[j * og_stride] */
    int64_t og_stride;
    const int32_t *oc;
    const double *ow;
} fml_hist_src;

/* Zero and fill the histograms of feats[0..nf) (feature f at hist + f * 256 * C)
 * on the calling thread. */
void fml_tree_hist_features(const fml_hist_src *src, const int32_t *feats, int64_t nf,
                            double *hist);

/* The same over threads: feature-parallel, or row-parallel over fixed chunks
 * (fml_tree_hist_row_chunks > 0) merged in chunk order. */
void fml_tree_hist_build(const fml_hist_src *src, const int32_t *feats, int64_t nf, double *hist,
                         double *chunk_scratch, int64_t n_threads);

/* Row-parallel histograms use this many chunks for m rows (0: feature-parallel). */
int64_t fml_tree_hist_row_chunks(int64_t nf, int64_t m);

/* Features histogrammed per task of the feature-parallel kernels. */
#define FML_TREE_HIST_GROUP 4

/* dst = a - b over the listed features (all 256 x n_channels values), serially. */
void fml_tree_hist_subtract(double *dst, const double *a, const double *b, const int32_t *feats,
                            int64_t nf, int64_t n_channels);

/* xorshift-style generator (splitmix64 seeding, xoshiro256**) for feature and
 * bootstrap draws: reproducible from a seed, independent of threads. */
typedef struct { uint64_t s[4]; } fml_rng;
void fml_rng_seed(fml_rng *r, uint64_t seed);
uint64_t fml_rng_next(fml_rng *r);
/* Uniform in [0, n). */
uint64_t fml_rng_below(fml_rng *r, uint64_t n);

#endif
