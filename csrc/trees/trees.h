/* trees.h: histogram decision trees, forests and gradient boosting (C API).
 *
 * Data
 *   Binned features: bins[f * n_samples + i] (uint8, column-major), bins
 *   0 .. n_bins[f]-1 hold values, bin 255 (FML_TREE_MISSING_BIN) holds NaN.
 *   A value x falls in the smallest bin b with x <= thresholds[f * 256 + b]
 *   (thresholds padded with +inf), so "bin <= b" and "x <= thresholds[b]" are
 *   the same test and trees predict on raw X with the thresholds they learned.
 *
 * Histograms (trees_hist.c)
 *   One slot per node: 256 bins x n_channels doubles per feature, float64 sums
 *   (the larger child is parent - smaller child, which cancels in float32).
 *     XGB criterion:   channels (sum g, sum h)            [gradient boosting,
 *                      and regression trees with g = -w (y - mean), h = w]
 *     class criteria:  channels (w of class 0 .. K-1) [+ sample count when
 *                      sample weights are not all one]
 *
 * Split search (trees_split.c): one prefix scan per feature; when the node has
 *   missing values both directions are scored in the same scan (missing left /
 *   missing right), plus "all values left, missing right".
 *
 * Threads and determinism
 *   One OpenMP region per tree: one thread runs the growth loop, the parallel
 *   loops are task loops (a thread that the OS does not schedule is never
 *   waited for; the others run its tasks).  Histograms are built feature-
 *   parallel (each feature summed over rows in row order by one task) or, for
 *   few features, row-parallel over chunks whose boundaries depend on the node
 *   size only, merged in chunk order.  The choice depends on the shape, never
 *   on the thread count.  Split search takes the first best split in feature
 *   order; partition is stable.  So models are bit-identical for any thread
 *   count.  Forests grow whole trees in parallel, each on one thread from its
 *   own seed.
 *
 * Row indices are int32 (n_samples < 2^31, checked in Python): the index
 * arrays are streamed for every node and half the bytes is measurably faster.
 */
#ifndef FML_TREES_H
#define FML_TREES_H

#include <stdint.h>

#include "core/fml_status.h"

#define FML_TREE_N_SLOTS 256    /* histogram bins per feature */
#define FML_TREE_MISSING_BIN 255
#define FML_TREE_MAX_BINS 255   /* bins for values, at most */

enum { FML_TREE_XGB = 0, FML_TREE_GINI = 1, FML_TREE_ENTROPY = 2 };

/* One node of a fitted tree (mirrored by a NumPy structured dtype in Python).
 * Children are allocated together: right == left + 1. */
typedef struct {
    double threshold;      /* split: x[feature] <= threshold goes left (NaN: missing_left) */
    double value;          /* prediction of the node (leaf value for the XGB criterion) */
    double gain;           /* split: criterion improvement (weighted); leaf: 0 */
    double weight;         /* sum of hessians (XGB) or of sample weights */
    int64_t count;         /* training rows in the node */
    int32_t feature;       /* -1 for a leaf */
    int32_t left;          /* left child; right child is left + 1; -1 for a leaf */
    int32_t depth;
    uint8_t bin;           /* split: bins <= bin go left */
    uint8_t missing_left;  /* split: where NaN (bin 255) goes */
    uint8_t pad[2];
} fml_tree_node;

/* Growth parameters of one tree. */
typedef struct {
    int32_t criterion;          /* FML_TREE_XGB / GINI / ENTROPY */
    int32_t n_classes;          /* class criteria */
    int32_t weighted;           /* class criteria: w given (adds a count channel) */
    int32_t hessian_is_count;   /* XGB: h is 1 per row, so sum h is the exact count */
    int32_t check_pure;         /* XGB: stop on nodes whose y (see grow) is constant */
    int32_t zero_gain_splits;   /* accept the best split even when its gain is 0 (CART) */
    int64_t max_depth;          /* <= 0: unlimited */
    int64_t max_leaf_nodes;     /* <= 0: unlimited (then depth-first growth) */
    int64_t min_samples_split;
    int64_t min_samples_leaf;
    double min_child_weight;    /* sum h (XGB) or sum w per child */
    double min_split_gain;      /* XGB: gamma, on 0.5 * score gain; class: on impurity decrease */
    double l2_regularization;   /* XGB: lambda */
    double leaf_scale;          /* XGB: leaf values are multiplied by this (learning rate) */
    int64_t max_features;       /* features drawn per node; <= 0 or >= active: all */
    uint64_t seed;              /* feature draws */
} fml_tree_params;

/* Grower: scratch that lives across the trees of one fit (histogram pool, row
 * buffers, the node list of the last tree).  One grower is used by one thread
 * at a time. */
typedef struct fml_tree_grower fml_tree_grower;

fml_tree_grower *fml_tree_grower_new(void);
void fml_tree_grower_free(fml_tree_grower *g);

/* Grow one tree.
 *   bins, n_bins:       IN  binned training data (n_samples x n_features) and bins per feature
 *   features, n_active: IN  features this tree may use, increasing
 *   gh:                 IN  XGB: (g, h) per row, interleaved (2 * n_samples)
 *   y_class, w:         IN  class criteria: class index per row, weight per row (NULL: 1)
 *   y_pure:             IN  XGB with check_pure: the target per row, or NULL
 *   rows:               IN-OUT the n_rows training rows, increasing (repeats allowed);
 *                       on return permuted so that every node's rows are contiguous
 * The tree is kept in the grower: fml_tree_grower_n_nodes, then _copy_out. */
int fml_tree_grow(fml_tree_grower *g, const fml_tree_params *params, const uint8_t *bins,
                  const int32_t *n_bins, int64_t n_samples, int64_t n_features,
                  const int32_t *features, int64_t n_active, const double *gh,
                  const int32_t *y_class, const double *w, const double *y_pure,
                  int32_t *rows, int64_t n_rows, const double *thresholds,
                  int64_t n_threads);

int64_t fml_tree_grower_n_nodes(const fml_tree_grower *g);

/* nodes: n_nodes; values: n_nodes x n_classes class sums (class criteria, else may be NULL);
 * node_start: first position of each node's rows in `rows` (may be NULL). */
void fml_tree_grower_copy_out(const fml_tree_grower *g, fml_tree_node *nodes, double *values,
                              int64_t *node_start);

/* Forest: grow n_trees trees in parallel, tree t from seeds[t] on a bootstrap
 * sample of n_draw rows (bootstrap != 0) or on all rows.  Each tree's nodes and
 * class values are written to C-owned buffers in `out`; the caller copies them
 * and frees `out` with fml_forest_result_free. */
typedef struct {
    fml_tree_node *nodes;
    double *values;
    int64_t n_nodes;
} fml_forest_tree;

int fml_forest_grow(const fml_tree_params *params, const uint8_t *bins, const int32_t *n_bins,
                    int64_t n_samples, int64_t n_features, const double *gh,
                    const int32_t *y_class, const double *w, const double *y_pure,
                    const uint64_t *seeds, int64_t n_trees, int bootstrap, int64_t n_draw,
                    const double *thresholds, fml_forest_tree *out, int64_t n_threads);
void fml_forest_result_free(fml_forest_tree *out, int64_t n_trees);

/* In-bag counts of the bootstrap of fml_forest_grow for one seed. */
void fml_forest_bootstrap_counts(uint64_t seed, int64_t n_samples, int64_t n_draw,
                                 int32_t *counts);

/* ---- binning (trees_bin.c) ------------------------------------------------ */

/* Thresholds per feature from the rows `sample` (n_sample of them) of X
 * (x[i * rs + j * cs]).  At most max_bins bins: midpoints between distinct
 * values when there are few, else quantiles.  OUT thresholds: n_features x 256
 * (padded with +inf); OUT n_bins: bins per feature (>= 1). */
int fml_tree_bin_fit_f32(const float *x, int64_t rs, int64_t cs, int64_t n_features,
                         const int64_t *sample, int64_t n_sample, int64_t max_bins,
                         double *thresholds, int32_t *n_bins, int64_t n_threads);
int fml_tree_bin_fit_f64(const double *x, int64_t rs, int64_t cs, int64_t n_features,
                         const int64_t *sample, int64_t n_sample, int64_t max_bins,
                         double *thresholds, int32_t *n_bins, int64_t n_threads);

/* OUT bins[f * ldb + i] for i < n_samples. */
int fml_tree_bin_transform_f32(const float *x, int64_t rs, int64_t cs, int64_t n_samples,
                               int64_t n_features, const double *thresholds, uint8_t *bins,
                               int64_t ldb, int64_t n_threads);
int fml_tree_bin_transform_f64(const double *x, int64_t rs, int64_t cs, int64_t n_samples,
                               int64_t n_features, const double *thresholds, uint8_t *bins,
                               int64_t ldb, int64_t n_threads);

/* ---- prediction (trees_predict.c) ----------------------------------------- */

/* Trees t < n_trees are nodes[offsets[t] ...].  Leaf contributions are added to
 * out (IN-OUT, n_samples x n_out, row-major):
 *   values == NULL: out[i, t % n_out] += scale * leaf.value    (boosting)
 *   values != NULL: out[i, k] += scale * values[leaf, k]        (forests, k < n_out)
 * Rows are summed over trees in tree order: bit-identical for any thread count. */
int fml_tree_predict_f32(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                         const double *values, int64_t n_out, double scale, const float *x,
                         int64_t rs, int64_t cs, int64_t n_samples, double *out,
                         int64_t n_threads);
int fml_tree_predict_f64(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                         const double *values, int64_t n_out, double scale, const double *x,
                         int64_t rs, int64_t cs, int64_t n_samples, double *out,
                         int64_t n_threads);

/* OUT leaves[i * n_trees + t]: the leaf (index within tree t) of row i. */
int fml_tree_apply_f32(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                       const float *x, int64_t rs, int64_t cs, int64_t n_samples,
                       int32_t *leaves, int64_t n_threads);
int fml_tree_apply_f64(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                       const double *x, int64_t rs, int64_t cs, int64_t n_samples,
                       int32_t *leaves, int64_t n_threads);

/* Binned rows (bins[f * ldb + i]): out[i * n_out + k] += leaf.value of one tree. */
int fml_tree_predict_binned(const fml_tree_node *nodes, const uint8_t *bins, int64_t ldb,
                            int64_t n_samples, double *out, int64_t n_out, int64_t k,
                            int64_t n_threads);

/* out[rows[j] * n_out + k] += leaf value, for the rows of each leaf (node_start
 * from the grower; every row in at most one leaf). */
int fml_tree_add_leaf_values(const fml_tree_node *nodes, int64_t n_nodes,
                             const int64_t *node_start, const int32_t *rows, double *out,
                             int64_t n_out, int64_t k, int64_t n_threads);

/* ---- losses of gradient boosting (trees_loss.c) --------------------------- */

enum { FML_LOSS_SQUARED = 0, FML_LOSS_ABSOLUTE = 1, FML_LOSS_HUBER = 2,
       FML_LOSS_LOGISTIC = 3, FML_LOSS_SOFTMAX = 4 };

/* Gradients and hessians of `loss` at raw (n x n_out) for targets y (class
 * index as double for the classification losses) and weights w (NULL: 1).
 * OUT gh: n_out blocks of n x 2 (g, h interleaved).  delta: Huber threshold. */
int fml_tree_loss_gradients(int loss, const double *raw, const double *y, const double *w,
                            int64_t n, int64_t n_out, double delta, double *gh,
                            int64_t n_threads);

/* Mean loss (weighted) at raw; OUT *result. */
int fml_tree_loss_value(int loss, const double *raw, const double *y, const double *w,
                        int64_t n, int64_t n_out, double delta, double *result);

/* ---- SIMD dispatch -------------------------------------------------------- */

/* Select the kernels of `level` (fml_cpu.h); returns the level used. */
int fml_trees_init(int level);

#endif
