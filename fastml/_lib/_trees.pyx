# _trees.pyx: bindings of csrc/trees (binning, tree growth, forests, prediction,
# boosting losses).  Validation and output allocation happen in Python
# (fastml/tree/, fastml/ensemble/); this file converts and calls C without the GIL.
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

import numpy as np

from fastml._lib.fml cimport (raise_for_status, fml_cpu_select, fml_cpu_detect, fml_simd_name,
                               fml_interrupt_arm)

cnp.import_array()

cdef extern from "trees/trees.h":
    ctypedef struct fml_tree_node:
        double threshold
        double value
        double gain
        double weight
        int64_t count
        int32_t feature
        int32_t left
        int32_t depth
        uint8_t bin
        uint8_t missing_left

    ctypedef struct fml_tree_params:
        int32_t criterion
        int32_t n_classes
        int32_t weighted
        int32_t hessian_is_count
        int32_t check_pure
        int32_t zero_gain_splits
        int64_t max_depth
        int64_t max_leaf_nodes
        int64_t min_samples_split
        int64_t min_samples_leaf
        double min_child_weight
        double min_split_gain
        double l2_regularization
        double leaf_scale
        int64_t max_features
        uint64_t seed

    ctypedef struct fml_tree_grower:
        pass

    ctypedef struct fml_forest_tree:
        fml_tree_node *nodes
        double *values
        int64_t n_nodes

    int FML_TREE_XGB, FML_TREE_GINI, FML_TREE_ENTROPY
    int FML_LOSS_SQUARED, FML_LOSS_ABSOLUTE, FML_LOSS_HUBER, FML_LOSS_LOGISTIC, FML_LOSS_SOFTMAX

    fml_tree_grower *fml_tree_grower_new() nogil
    void fml_tree_grower_free(fml_tree_grower *g) nogil
    int fml_tree_grow(fml_tree_grower *g, const fml_tree_params *params, const uint8_t *bins,
                      const int32_t *n_bins, int64_t n_samples, int64_t n_features,
                      const int32_t *features, int64_t n_active, const double *gh,
                      const int32_t *y_class, const double *w, const double *y_pure,
                      int32_t *rows, int64_t n_rows, const double *thresholds,
                      int64_t n_threads) nogil
    int64_t fml_tree_grower_n_nodes(const fml_tree_grower *g) nogil
    void fml_tree_grower_copy_out(const fml_tree_grower *g, fml_tree_node *nodes, double *values,
                                  int64_t *node_start) nogil
    int fml_forest_grow(const fml_tree_params *params, const uint8_t *bins, const int32_t *n_bins,
                        int64_t n_samples, int64_t n_features, const double *gh,
                        const int32_t *y_class, const double *w, const double *y_pure,
                        const uint64_t *seeds, int64_t n_trees, int bootstrap, int64_t n_draw,
                        const double *thresholds, fml_forest_tree *out, int64_t n_threads) nogil
    void fml_forest_result_free(fml_forest_tree *out, int64_t n_trees) nogil
    void fml_forest_bootstrap_counts(uint64_t seed, int64_t n_samples, int64_t n_draw,
                                     int32_t *counts) nogil

    int fml_tree_bin_fit_f32(const float *x, int64_t rs, int64_t cs, int64_t n_features,
                             const int64_t *sample, int64_t n_sample, int64_t max_bins,
                             double *thresholds, int32_t *n_bins, int64_t n_threads) nogil
    int fml_tree_bin_fit_f64(const double *x, int64_t rs, int64_t cs, int64_t n_features,
                             const int64_t *sample, int64_t n_sample, int64_t max_bins,
                             double *thresholds, int32_t *n_bins, int64_t n_threads) nogil
    int fml_tree_bin_transform_f32(const float *x, int64_t rs, int64_t cs, int64_t n_samples,
                                   int64_t n_features, const double *thresholds, uint8_t *bins,
                                   int64_t ldb, int64_t n_threads) nogil
    int fml_tree_bin_transform_f64(const double *x, int64_t rs, int64_t cs, int64_t n_samples,
                                   int64_t n_features, const double *thresholds, uint8_t *bins,
                                   int64_t ldb, int64_t n_threads) nogil

    int fml_tree_predict_f32(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                             const double *values, int64_t n_out, double scale, const float *x,
                             int64_t rs, int64_t cs, int64_t n_samples, double *out,
                             int64_t n_threads) nogil
    int fml_tree_predict_f64(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                             const double *values, int64_t n_out, double scale, const double *x,
                             int64_t rs, int64_t cs, int64_t n_samples, double *out,
                             int64_t n_threads) nogil
    int fml_tree_apply_f32(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                           const float *x, int64_t rs, int64_t cs, int64_t n_samples,
                           int32_t *leaves, int64_t n_threads) nogil
    int fml_tree_apply_f64(const fml_tree_node *nodes, const int64_t *offsets, int64_t n_trees,
                           const double *x, int64_t rs, int64_t cs, int64_t n_samples,
                           int32_t *leaves, int64_t n_threads) nogil
    int fml_tree_predict_binned(const fml_tree_node *nodes, const uint8_t *bins, int64_t ldb,
                                int64_t n_samples, double *out, int64_t n_out, int64_t k,
                                int64_t n_threads) nogil
    int fml_tree_add_leaf_values(const fml_tree_node *nodes, int64_t n_nodes,
                                 const int64_t *node_start, const int32_t *rows, double *out,
                                 int64_t n_out, int64_t k, int64_t n_threads) nogil
    int fml_tree_loss_gradients(int loss, const double *raw, const double *y, const double *w,
                                int64_t n, int64_t n_out, double delta, double *gh,
                                int64_t n_threads) nogil
    int fml_tree_loss_value(int loss, const double *raw, const double *y, const double *w,
                            int64_t n, int64_t n_out, double delta, double *result) nogil
    int fml_trees_init(int level)

SIMD_LEVELS = ("scalar", "avx2", "avx512")

NODE_DTYPE = np.dtype([("threshold", np.float64), ("value", np.float64), ("gain", np.float64),
                       ("weight", np.float64), ("count", np.int64), ("feature", np.int32),
                       ("left", np.int32), ("depth", np.int32), ("bin", np.uint8),
                       ("missing_left", np.uint8), ("pad", np.uint8, (2,))])
if NODE_DTYPE.itemsize != sizeof(fml_tree_node):
    raise ImportError("fastml._lib._trees: node layout mismatch between C and NumPy")

CRITERIA = {"xgb": FML_TREE_XGB, "gini": FML_TREE_GINI, "entropy": FML_TREE_ENTROPY}
LOSSES = {"squared_error": FML_LOSS_SQUARED, "absolute_error": FML_LOSS_ABSOLUTE,
          "huber": FML_LOSS_HUBER, "log_loss": FML_LOSS_LOGISTIC, "softmax": FML_LOSS_SOFTMAX}

_selected = fml_trees_init(fml_cpu_select())


def set_simd(str level):
    """Select `level` (capped at what the CPU has) for the split scans; returns the level used."""
    global _selected
    _selected = fml_trees_init(min(SIMD_LEVELS.index(level), fml_cpu_detect()))
    return fml_simd_name(_selected).decode()


def simd_selected():
    return fml_simd_name(_selected).decode()


cdef fml_tree_params _params(dict p):
    cdef fml_tree_params q
    q.criterion = CRITERIA[p["criterion"]]
    q.n_classes = p.get("n_classes", 0)
    q.weighted = p.get("weighted", 0)
    q.hessian_is_count = p.get("hessian_is_count", 0)
    q.check_pure = p.get("check_pure", 0)
    q.zero_gain_splits = p.get("zero_gain_splits", 0)
    q.max_depth = p.get("max_depth", 0)
    q.max_leaf_nodes = p.get("max_leaf_nodes", 0)
    q.min_samples_split = p.get("min_samples_split", 2)
    q.min_samples_leaf = p.get("min_samples_leaf", 1)
    q.min_child_weight = p.get("min_child_weight", 0.0)
    q.min_split_gain = p.get("min_split_gain", 0.0)
    q.l2_regularization = p.get("l2_regularization", 0.0)
    q.leaf_scale = p.get("leaf_scale", 1.0)
    q.max_features = p.get("max_features", 0)
    q.seed = p.get("seed", 0)
    return q


cdef inline const void *_ptr_or_null(object a):
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef class Grower:
    """Scratch of the C tree grower, reused across the trees of one fit."""
    cdef fml_tree_grower *g

    def __cinit__(self):
        self.g = fml_tree_grower_new()
        if self.g == NULL:
            raise MemoryError("tree grower: could not allocate")

    def __dealloc__(self):
        fml_tree_grower_free(self.g)

    def grow(self, dict params, const uint8_t[::1, :] bins, const int32_t[::1] n_bins,
             const int32_t[::1] features, object gh, object y_class, object w, object y_pure,
             int32_t[::1] rows, const double[:, ::1] thresholds, int64_t n_threads,
             bint want_start=False):
        """Grow one tree on rows (permuted in place); returns (nodes, values or None, node_start or None)."""
        cdef fml_tree_params q = _params(params)
        cdef int status
        cdef const double *pgh = <const double *>_ptr_or_null(gh)
        cdef const int32_t *pyc = <const int32_t *>_ptr_or_null(y_class)
        cdef const double *pw = <const double *>_ptr_or_null(w)
        cdef const double *pyp = <const double *>_ptr_or_null(y_pure)
        cdef int64_t n = bins.shape[0], d = bins.shape[1]
        fml_interrupt_arm()
        with nogil:
            status = fml_tree_grow(self.g, &q, &bins[0, 0], &n_bins[0], n, d, &features[0],
                                   features.shape[0], pgh, pyc, pw, pyp, &rows[0], rows.shape[0],
                                   &thresholds[0, 0], n_threads)
        raise_for_status(status, "tree grow")
        cdef int64_t nn = fml_tree_grower_n_nodes(self.g)
        nodes = np.empty(nn, dtype=NODE_DTYPE)
        values = None
        starts = None
        cdef double *pv = NULL
        cdef int64_t *ps = NULL
        if q.criterion != FML_TREE_XGB:
            values = np.empty((nn, q.n_classes), dtype=np.float64)
            pv = <double *>cnp.PyArray_DATA(values)
        if want_start:
            starts = np.empty(nn, dtype=np.int64)
            ps = <int64_t *>cnp.PyArray_DATA(starts)
        fml_tree_grower_copy_out(self.g, <fml_tree_node *>cnp.PyArray_DATA(nodes), pv, ps)
        return nodes, values, starts


def forest_grow(dict params, const uint8_t[::1, :] bins, const int32_t[::1] n_bins, object gh,
                object y_class, object w, object y_pure, const uint64_t[::1] seeds, bint bootstrap,
                int64_t n_draw, const double[:, ::1] thresholds, int64_t n_threads):
    """Grow len(seeds) trees in parallel; returns a list of (nodes, values or None)."""
    cdef fml_tree_params q = _params(params)
    cdef int64_t n_trees = seeds.shape[0], t, nn, K
    cdef int status
    cdef const double *pgh = <const double *>_ptr_or_null(gh)
    cdef const int32_t *pyc = <const int32_t *>_ptr_or_null(y_class)
    cdef const double *pw = <const double *>_ptr_or_null(w)
    cdef const double *pyp = <const double *>_ptr_or_null(y_pure)
    cdef int64_t n = bins.shape[0], d = bins.shape[1]
    out_arr = np.zeros(max(n_trees, 1) * sizeof(fml_forest_tree), dtype=np.uint8)
    cdef fml_forest_tree *out = <fml_forest_tree *>cnp.PyArray_DATA(out_arr)
    fml_interrupt_arm()
    with nogil:
        status = fml_forest_grow(&q, &bins[0, 0], &n_bins[0], n, d, pgh, pyc, pw, pyp, &seeds[0],
                                 n_trees, bootstrap, n_draw, &thresholds[0, 0], out, n_threads)
    result = []
    try:
        raise_for_status(status, "forest grow")      # inside: the trees built so far are freed
        for t in range(n_trees):
            nn = out[t].n_nodes
            nodes = np.empty(nn, dtype=NODE_DTYPE)
            memcpy(cnp.PyArray_DATA(nodes), out[t].nodes, nn * sizeof(fml_tree_node))
            values = None
            if out[t].values != NULL:
                K = q.n_classes
                values = np.empty((nn, K), dtype=np.float64)
                memcpy(cnp.PyArray_DATA(values), out[t].values, nn * K * sizeof(double))
            result.append((nodes, values))
    finally:
        fml_forest_result_free(out, n_trees)
    return result


def bootstrap_counts(uint64_t seed, int64_t n_samples, int64_t n_draw):
    counts = np.empty(n_samples, dtype=np.int32)
    cdef int32_t[::1] c = counts
    if n_samples > 0:
        fml_interrupt_arm()
        with nogil:
            fml_forest_bootstrap_counts(seed, n_samples, n_draw, &c[0])
    return counts


def bin_fit(cnp.ndarray X, const int64_t[::1] sample, int64_t max_bins, double[:, ::1] thresholds,
            int32_t[::1] n_bins, int64_t n_threads):
    cdef int64_t item = X.itemsize
    cdef int64_t rs = X.strides[0] // item, cs = X.strides[1] // item, d = X.shape[1]
    cdef void *px = cnp.PyArray_DATA(X)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if item == 4:
            status = fml_tree_bin_fit_f32(<const float *>px, rs, cs, d, &sample[0], sample.shape[0],
                                          max_bins, &thresholds[0, 0], &n_bins[0], n_threads)
        else:
            status = fml_tree_bin_fit_f64(<const double *>px, rs, cs, d, &sample[0], sample.shape[0],
                                          max_bins, &thresholds[0, 0], &n_bins[0], n_threads)
    raise_for_status(status, "binning")


def bin_transform(cnp.ndarray X, const double[:, ::1] thresholds, uint8_t[::1, :] bins,
                  int64_t n_threads):
    cdef int64_t item = X.itemsize
    cdef int64_t rs = X.strides[0] // item, cs = X.strides[1] // item
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef void *px = cnp.PyArray_DATA(X)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if item == 4:
            status = fml_tree_bin_transform_f32(<const float *>px, rs, cs, n, d, &thresholds[0, 0],
                                                &bins[0, 0], n, n_threads)
        else:
            status = fml_tree_bin_transform_f64(<const double *>px, rs, cs, n, d, &thresholds[0, 0],
                                                &bins[0, 0], n, n_threads)
    raise_for_status(status, "binning")


def predict(cnp.ndarray nodes, const int64_t[::1] offsets, object values, int64_t n_out,
            double scale, cnp.ndarray X, double[:, ::1] out, int64_t n_threads):
    """out += sum over trees (offsets[:-1] start each tree) of the leaf values of X's rows."""
    cdef int64_t item = X.itemsize
    cdef int64_t rs = X.strides[0] // item, cs = X.strides[1] // item, n = X.shape[0]
    cdef int64_t n_trees = offsets.shape[0] - 1
    cdef void *px = cnp.PyArray_DATA(X)
    cdef const fml_tree_node *pn = <const fml_tree_node *>cnp.PyArray_DATA(nodes)
    cdef const double *pv = <const double *>_ptr_or_null(values)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if item == 4:
            status = fml_tree_predict_f32(pn, &offsets[0], n_trees, pv, n_out, scale,
                                          <const float *>px, rs, cs, n, &out[0, 0], n_threads)
        else:
            status = fml_tree_predict_f64(pn, &offsets[0], n_trees, pv, n_out, scale,
                                          <const double *>px, rs, cs, n, &out[0, 0], n_threads)
    raise_for_status(status, "tree predict")


def apply(cnp.ndarray nodes, const int64_t[::1] offsets, cnp.ndarray X, int32_t[:, ::1] leaves,
          int64_t n_threads):
    cdef int64_t item = X.itemsize
    cdef int64_t rs = X.strides[0] // item, cs = X.strides[1] // item, n = X.shape[0]
    cdef int64_t n_trees = offsets.shape[0] - 1
    cdef void *px = cnp.PyArray_DATA(X)
    cdef const fml_tree_node *pn = <const fml_tree_node *>cnp.PyArray_DATA(nodes)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if item == 4:
            status = fml_tree_apply_f32(pn, &offsets[0], n_trees, <const float *>px, rs, cs, n,
                                        &leaves[0, 0], n_threads)
        else:
            status = fml_tree_apply_f64(pn, &offsets[0], n_trees, <const double *>px, rs, cs, n,
                                        &leaves[0, 0], n_threads)
    raise_for_status(status, "tree apply")


def predict_binned(cnp.ndarray nodes, const uint8_t[::1, :] bins, double[:, ::1] out, int64_t k,
                   int64_t n_threads):
    cdef const fml_tree_node *pn = <const fml_tree_node *>cnp.PyArray_DATA(nodes)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        status = fml_tree_predict_binned(pn, &bins[0, 0], bins.shape[0], bins.shape[0], &out[0, 0],
                                         out.shape[1], k, n_threads)
    raise_for_status(status, "tree predict")


def add_leaf_values(cnp.ndarray nodes, const int64_t[::1] node_start, const int32_t[::1] rows,
                    double[:, ::1] out, int64_t k, int64_t n_threads):
    cdef const fml_tree_node *pn = <const fml_tree_node *>cnp.PyArray_DATA(nodes)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        status = fml_tree_add_leaf_values(pn, node_start.shape[0], &node_start[0], &rows[0],
                                          &out[0, 0], out.shape[1], k, n_threads)
    raise_for_status(status, "tree update")


def loss_gradients(str loss, const double[:, ::1] raw, const double[::1] y, object w, double delta,
                   double[:, :, ::1] gh, int64_t n_threads):
    """gh[k, i] = (g, h) of output k at row i."""
    cdef int code = LOSSES[loss]
    cdef const double *pw = <const double *>_ptr_or_null(w)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        status = fml_tree_loss_gradients(code, &raw[0, 0], &y[0], pw, raw.shape[0], raw.shape[1],
                                         delta, &gh[0, 0, 0], n_threads)
    raise_for_status(status, "loss gradients")


def loss_value(str loss, const double[:, ::1] raw, const double[::1] y, object w, double delta):
    cdef int code = LOSSES[loss]
    cdef const double *pw = <const double *>_ptr_or_null(w)
    cdef double result = 0
    cdef int status
    fml_interrupt_arm()
    with nogil:
        status = fml_tree_loss_value(code, &raw[0, 0], &y[0], pw, raw.shape[0], raw.shape[1],
                                     delta, &result)
    raise_for_status(status, "loss value")
    return result
