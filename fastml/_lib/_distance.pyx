# _distance.pyx: bindings of csrc/distance (pairwise distances, kernels, knn, radius).
# Inputs are validated, converted to one float dtype and made C-contiguous by
# fastml/metrics/pairwise.py and fastml/neighbors/_search.py; this file only
# converts memoryviews to pointers, releases the GIL and maps status codes.
cimport numpy as cnp
from cython cimport floating
from libc.stdint cimport int64_t

import numpy as np

from fastml._lib.fml cimport *

cnp.import_array()

cdef extern from "distance/distance.h":
    ctypedef struct fml_radius_result:
        pass
    int fml_distance_init(int level)
    int fml_distance_amx(int allow)
    int fml_distance_i8(int allow)
    int fml_distance_pairwise_f32(int metric, double p, const float *x, int64_t m, const float *y,
                                  int64_t n, int64_t d, int symmetric, float *out, int64_t ldo,
                                  int64_t n_threads) nogil
    int fml_distance_pairwise_f64(int metric, double p, const double *x, int64_t m,
                                  const double *y, int64_t n, int64_t d, int symmetric,
                                  double *out, int64_t ldo, int64_t n_threads) nogil
    int fml_distance_kernel_f32(int kind, double gamma, double coef0, double degree,
                                const float *x, int64_t m, const float *y, int64_t n, int64_t d,
                                int symmetric, float *out, int64_t ldo, int64_t n_threads) nogil
    int fml_distance_kernel_f64(int kind, double gamma, double coef0, double degree,
                                const double *x, int64_t m, const double *y, int64_t n,
                                int64_t d, int symmetric, double *out, int64_t ldo,
                                int64_t n_threads) nogil
    int fml_distance_knn_f32(int metric, double p, const float *x, int64_t m, const float *y,
                             int64_t n, int64_t d, int64_t k, float *dist, int64_t *ind,
                             int64_t n_threads) nogil
    int fml_distance_knn_f64(int metric, double p, const double *x, int64_t m, const double *y,
                             int64_t n, int64_t d, int64_t k, double *dist, int64_t *ind,
                             int64_t n_threads) nogil
    int fml_distance_radius_f32(int metric, double p, const float *x, int64_t m, const float *y,
                                int64_t n, int64_t d, double radius, fml_radius_result **res,
                                int64_t n_threads) nogil
    int fml_distance_radius_f64(int metric, double p, const double *x, int64_t m,
                                const double *y, int64_t n, int64_t d, double radius,
                                fml_radius_result **res, int64_t n_threads) nogil
    int64_t fml_radius_total(const fml_radius_result *res) nogil
    void fml_radius_copy_f32(const fml_radius_result *res, int64_t *indptr, int64_t *indices,
                             float *dist) nogil
    void fml_radius_copy_f64(const fml_radius_result *res, int64_t *indptr, int64_t *indices,
                             double *dist) nogil
    void fml_radius_free(fml_radius_result *res) nogil

SIMD_LEVELS = ("scalar", "avx2", "avx512")

# metric and kernel codes of distance.h
METRICS = {"sqeuclidean": 0, "euclidean": 1, "cosine": 2, "dot": 3, "manhattan": 4,
           "chebyshev": 5, "minkowski": 6, "kl": 7}
KERNELS = {"linear": 0, "polynomial": 1, "rbf": 2, "sigmoid": 3}

_selected = fml_distance_init(fml_cpu_select())


def set_simd(str level):
    """Select `level` (capped at what the CPU has) for this module's GEMM and
    distance kernels; returns the level used."""
    global _selected
    _selected = fml_distance_init(min(SIMD_LEVELS.index(level), fml_cpu_detect()))
    return fml_simd_name(_selected).decode()


def simd_selected():
    return fml_simd_name(_selected).decode()


def set_amx(bint allow):
    """Allow or forbid knn's AMX (bf16 tile) candidate search; returns whether it is
    now in use (it also needs the CPU, the OS and the avx512 level)."""
    return bool(fml_distance_amx(1 if allow else 0))


def set_i8(bint allow):
    """Allow or forbid knn's int8 candidate search; returns whether it is now in
    use (it runs at the avx2 SIMD level)."""
    return bool(fml_distance_i8(1 if allow else 0))


def i8_active():
    """Whether knn uses the int8 candidate search in this process."""
    return bool(fml_distance_i8(-1))


def amx_active():
    """Whether knn uses the AMX candidate search in this process."""
    return bool(fml_distance_amx(-1))


def pairwise(int metric, double p, const floating[:, ::1] X, const floating[:, ::1] Y,
             floating[:, ::1] out, bint symmetric, int64_t n_threads):
    """out[i, j] = metric(X[i], Y[j]); shapes checked by the caller (m, n >= 1)."""
    cdef int64_t m = X.shape[0], n = Y.shape[0], d = X.shape[1]
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_distance_pairwise_f32(metric, p, &X[0, 0], m, &Y[0, 0], n, d, symmetric,
                                               &out[0, 0], out.shape[1], n_threads)
        else:
            status = fml_distance_pairwise_f64(metric, p, &X[0, 0], m, &Y[0, 0], n, d, symmetric,
                                               &out[0, 0], out.shape[1], n_threads)
    raise_for_status(status, "pairwise_distances")


def kernel(int kind, double gamma, double coef0, double degree, const floating[:, ::1] X,
           const floating[:, ::1] Y, floating[:, ::1] out, bint symmetric, int64_t n_threads):
    """out[i, j] = kernel(X[i], Y[j]); shapes checked by the caller (m, n >= 1)."""
    cdef int64_t m = X.shape[0], n = Y.shape[0], d = X.shape[1]
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_distance_kernel_f32(kind, gamma, coef0, degree, &X[0, 0], m, &Y[0, 0], n,
                                             d, symmetric, &out[0, 0], out.shape[1], n_threads)
        else:
            status = fml_distance_kernel_f64(kind, gamma, coef0, degree, &X[0, 0], m, &Y[0, 0], n,
                                             d, symmetric, &out[0, 0], out.shape[1], n_threads)
    raise_for_status(status, "kernel")


def knn(int metric, double p, const floating[:, ::1] X, const floating[:, ::1] Y, int64_t k,
        floating[:, ::1] dist, int64_t[:, ::1] ind, int64_t n_threads):
    """dist, ind (m x k): the k nearest rows of Y; 1 <= k <= len(Y), m >= 1."""
    cdef int64_t m = X.shape[0], n = Y.shape[0], d = X.shape[1]
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_distance_knn_f32(metric, p, &X[0, 0], m, &Y[0, 0], n, d, k,
                                          &dist[0, 0], &ind[0, 0], n_threads)
        else:
            status = fml_distance_knn_f64(metric, p, &X[0, 0], m, &Y[0, 0], n, d, k,
                                          &dist[0, 0], &ind[0, 0], n_threads)
    raise_for_status(status, "knn")


def radius(int metric, double p, const floating[:, ::1] X, const floating[:, ::1] Y,
           double radius, int64_t n_threads):
    """(indptr, indices, distances) of the pairs within `radius`; m, n >= 1."""
    cdef int64_t m = X.shape[0], n = Y.shape[0], d = X.shape[1], total
    cdef int status
    cdef fml_radius_result *res = NULL
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_distance_radius_f32(metric, p, &X[0, 0], m, &Y[0, 0], n, d, radius,
                                             &res, n_threads)
        else:
            status = fml_distance_radius_f64(metric, p, &X[0, 0], m, &Y[0, 0], n, d, radius,
                                             &res, n_threads)
    raise_for_status(status, "radius_neighbors")
    cdef int64_t[::1] indptr, indices
    cdef floating[::1] dist
    try:
        total = fml_radius_total(res)
        indptr_a = np.empty(m + 1, dtype=np.int64)
        indices_a = np.empty(max(total, 1), dtype=np.int64)
        dist_a = np.empty(max(total, 1), dtype=np.float32 if floating is float else np.float64)
        indptr, indices, dist = indptr_a, indices_a, dist_a
        fml_interrupt_arm()
        with nogil:
            if floating is float:
                fml_radius_copy_f32(res, &indptr[0], &indices[0], &dist[0])
            else:
                fml_radius_copy_f64(res, &indptr[0], &indices[0], &dist[0])
    finally:
        fml_radius_free(res)
    return indptr_a, indices_a[:total], dist_a[:total]
