# _kmeans.pyx: bindings of csrc/kmeans (fused Lloyd step, Hamerly step, inertia).
# Inputs are validated and made C-contiguous by fastml/cluster/_kmeans.py.
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint8_t

from fastml._lib.fml cimport *

cdef extern from "core/fml_gemm.h":
    int64_t fml_gemm_packed_a_len_f32(int64_t m, int64_t k)
    int64_t fml_gemm_packed_a_len_f64(int64_t m, int64_t k)
    int fml_gemm_pack_a_f32(int64_t m, int64_t k, const float *a, int64_t rsa, int64_t csa,
                            float *out, int64_t *mr_out, int64_t n_threads) nogil
    int fml_gemm_pack_a_f64(int64_t m, int64_t k, const double *a, int64_t rsa, int64_t csa,
                            double *out, int64_t *mr_out, int64_t n_threads) nogil

cdef extern from "kmeans/kmeans_kernels.h":
    int fml_kmeans_init(int level)
    int FML_KMEANS_DIRECT_MAX_D

cdef extern from "kmeans/kmeans.h":
    int64_t fml_kmeans_workspace_len(int64_t n, int64_t k, int64_t d)
    int64_t fml_kmeans_lanes_len(int64_t n, int64_t d, int is_f64)
    int fml_kmeans_pack_lanes_f32(int64_t n, int64_t d, const float *x, float *out,
                                  int64_t n_threads) nogil
    int fml_kmeans_pack_lanes_f64(int64_t n, int64_t d, const double *x, double *out,
                                  int64_t n_threads) nogil
    int64_t fml_kmeans_i8_len(int64_t n, int64_t d)
    void fml_kmeans_pack_i8_f32(int64_t n, int64_t d, const float *x, uint8_t *out,
                                int64_t n_threads) nogil
    void fml_kmeans_pack_i8_f64(int64_t n, int64_t d, const double *x, uint8_t *out,
                                int64_t n_threads) nogil
    int fml_kmeans_i8(int allow)
    int fml_kmeans_lloyd_f32(int64_t n, int64_t d, const float *x, const float *xpack,
                             int64_t mr, const uint8_t *xq, const float *w, int64_t k,
                             const float *centers, int32_t *labels, float *min_d2,
                             double *sums, double *wsum, double *ws, int update,
                             int64_t *n_changed, int64_t n_threads) nogil
    int fml_kmeans_lloyd_f64(int64_t n, int64_t d, const double *x, const double *xpack,
                             int64_t mr, const uint8_t *xq, const double *w, int64_t k,
                             const double *centers, int32_t *labels, double *min_d2,
                             double *sums, double *wsum, double *ws, int update,
                             int64_t *n_changed, int64_t n_threads) nogil
    int fml_kmeans_hamerly_f32(int64_t n, int64_t d, const float *x, const float *w, int64_t k,
                               const float *centers, const double *half_sep, int32_t *labels,
                               double *upper, double *lower, double *sums, double *wsum,
                               double *ws, int update, int64_t *n_recomputed,
                               int64_t *n_changed, int64_t n_threads) nogil
    int fml_kmeans_hamerly_f64(int64_t n, int64_t d, const double *x, const double *w, int64_t k,
                               const double *centers, const double *half_sep, int32_t *labels,
                               double *upper, double *lower, double *sums, double *wsum,
                               double *ws, int update, int64_t *n_recomputed,
                               int64_t *n_changed, int64_t n_threads) nogil
    int fml_kmeans_bounds_move(int64_t n, const int32_t *labels, const double *shift, int32_t top,
                               double top_drift, double second_drift, double *upper,
                               double *lower, int64_t n_threads) nogil
    int fml_kmeans_point_d2_f32(int64_t n, int64_t d, const float *x, const float *centers,
                                const int32_t *labels, double *out, int64_t n_threads) nogil
    int fml_kmeans_point_d2_f64(int64_t n, int64_t d, const double *x, const double *centers,
                                const int32_t *labels, double *out, int64_t n_threads) nogil
    int fml_kmeans_center_f32(int64_t n, int64_t d, const float *x, float *out, double *mean,
                              int64_t n_threads) nogil
    int fml_kmeans_center_f64(int64_t n, int64_t d, const double *x, double *out, double *mean,
                              int64_t n_threads) nogil
    int fml_kmeans_inertia_f32(int64_t n, int64_t d, const float *x, const float *w,
                               const float *centers, const int32_t *labels, double *inertia,
                               int64_t n_threads) nogil
    int fml_kmeans_inertia_f64(int64_t n, int64_t d, const double *x, const double *w,
                               const double *centers, const int32_t *labels, double *inertia,
                               int64_t n_threads) nogil

_level = fml_kmeans_init(fml_cpu_select())


def set_simd(str level):
    levels = ("scalar", "avx2", "avx512")
    return fml_simd_name(fml_kmeans_init(min(levels.index(level), fml_cpu_detect()))).decode()


def workspace_len(int64_t n, int64_t k, int64_t d):
    """Doubles of workspace lloyd/hamerly need (allocate once per fit)."""
    return fml_kmeans_workspace_len(n, k, d)


def set_i8(int allow):
    """Allow (1) or forbid (0) the int8 assignment of the Lloyd step; returns
    whether it is in use at the current SIMD level (for tests)."""
    return bool(fml_kmeans_i8(allow))


def i8_active():
    return bool(fml_kmeans_i8(-1))


def pack_rows(const floating[:, ::1] X, int64_t n_threads):
    """X prepared once per fit for lloyd: (xpack, mr, xq).  xq: the int8 form
    where the int8 assignment runs (then xpack is empty); else xpack is the
    lanes layout of the direct kernel for small d, or the GEMM's panels."""
    import numpy as np
    cdef int64_t n = X.shape[0], d = X.shape[1], mr = 0
    cdef int64_t qlen = fml_kmeans_i8_len(n, d)
    cdef floating[::1] out
    cdef uint8_t[::1] q
    if qlen > 0:
        q = np.empty(qlen, dtype=np.uint8)
        fml_interrupt_arm()
        with nogil:
            if floating is float:
                fml_kmeans_pack_i8_f32(n, d, &X[0, 0], &q[0], n_threads)
            else:
                fml_kmeans_pack_i8_f64(n, d, &X[0, 0], &q[0], n_threads)
        return np.empty(0, dtype=np.float32 if floating is float else np.float64), 0, q.base
    if d <= FML_KMEANS_DIRECT_MAX_D:
        if floating is float:
            out = np.empty(fml_kmeans_lanes_len(n, d, 0), dtype=np.float32)
            fml_interrupt_arm()
            with nogil:
                fml_kmeans_pack_lanes_f32(n, d, &X[0, 0], &out[0], n_threads)
        else:
            out = np.empty(fml_kmeans_lanes_len(n, d, 1), dtype=np.float64)
            fml_interrupt_arm()
            with nogil:
                fml_kmeans_pack_lanes_f64(n, d, &X[0, 0], &out[0], n_threads)
        return out.base, 0, None
    if floating is float:
        out = np.empty(fml_gemm_packed_a_len_f32(n, d), dtype=np.float32)
        fml_interrupt_arm()
        with nogil:
            fml_gemm_pack_a_f32(n, d, &X[0, 0], d, 1, &out[0], &mr, n_threads)
    else:
        out = np.empty(fml_gemm_packed_a_len_f64(n, d), dtype=np.float64)
        fml_interrupt_arm()
        with nogil:
            fml_gemm_pack_a_f64(n, d, &X[0, 0], d, 1, &out[0], &mr, n_threads)
    return out.base, mr, None


def lloyd(const floating[:, ::1] X, packed, const floating[::1] sample_weight,
          const floating[:, ::1] centers, int32_t[::1] labels, floating[::1] min_d2,
          double[:, ::1] sums, double[::1] wsum, double[::1] workspace, int update,
          int64_t n_threads):
    """Assign labels (and min_d2) for the centres; update: 0 labels only, 1 the
    weighted sums of the new labels, 2 add the change of the sums (sums / wsum
    hold those of the labels on entry).  packed: pack_rows(X) or None.  labels
    on entry: the previous labels (hints of the int8 step) or -1.  Returns how
    many labels changed."""
    cdef int64_t n = X.shape[0], d = X.shape[1], k = centers.shape[0], mr = 0, changed = 0
    cdef int status
    cdef floating *md = &min_d2[0] if min_d2.shape[0] > 0 else NULL
    cdef double *ws = &workspace[0] if workspace.shape[0] > 0 else NULL
    cdef const floating[::1] xpack
    cdef const uint8_t[::1] xq
    cdef const floating *xp = NULL
    cdef const uint8_t *xqp = NULL
    if packed is not None:
        xpack, mr = packed[0], packed[1]
        if xpack.shape[0] > 0:
            xp = &xpack[0]
        if packed[2] is not None:
            xq = packed[2]
            if xq.shape[0] != fml_kmeans_i8_len(n, d):
                raise ValueError("packed rows do not match X")
            xqp = &xq[0]
    if update not in (0, 1, 2):
        raise ValueError(f"update must be 0, 1 or 2, got {update}")
    if update and workspace.shape[0] < fml_kmeans_workspace_len(n, k, d):
        raise ValueError("workspace too small")
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_kmeans_lloyd_f32(n, d, &X[0, 0], xp, mr, xqp, &sample_weight[0], k,
                                          &centers[0, 0], &labels[0], md, &sums[0, 0], &wsum[0],
                                          ws, update, &changed, n_threads)
        else:
            status = fml_kmeans_lloyd_f64(n, d, &X[0, 0], xp, mr, xqp, &sample_weight[0], k,
                                          &centers[0, 0], &labels[0], md, &sums[0, 0], &wsum[0],
                                          ws, update, &changed, n_threads)
    raise_for_status(status, "KMeans")
    return changed


def hamerly(const floating[:, ::1] X, const floating[::1] sample_weight,
            const floating[:, ::1] centers, const double[::1] half_sep, int32_t[::1] labels,
            double[::1] upper, double[::1] lower, double[:, ::1] sums, double[::1] wsum,
            double[::1] workspace, int update, int64_t n_threads):
    """One Hamerly step; returns (points that needed distances to all centres,
    labels changed).  update: 1 or 2 as for lloyd."""
    cdef int64_t n = X.shape[0], d = X.shape[1], k = centers.shape[0], n_re = 0, changed = 0
    cdef int status
    if update not in (1, 2):
        raise ValueError(f"update must be 1 or 2, got {update}")
    if workspace.shape[0] < fml_kmeans_workspace_len(n, k, d):
        raise ValueError("workspace too small")
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_kmeans_hamerly_f32(n, d, &X[0, 0], &sample_weight[0], k, &centers[0, 0],
                                            &half_sep[0], &labels[0], &upper[0], &lower[0],
                                            &sums[0, 0], &wsum[0], &workspace[0], update, &n_re,
                                            &changed, n_threads)
        else:
            status = fml_kmeans_hamerly_f64(n, d, &X[0, 0], &sample_weight[0], k, &centers[0, 0],
                                            &half_sep[0], &labels[0], &upper[0], &lower[0],
                                            &sums[0, 0], &wsum[0], &workspace[0], update, &n_re,
                                            &changed, n_threads)
    raise_for_status(status, "KMeans")
    return n_re, changed


def center(const floating[:, ::1] X, floating[:, ::1] out, int64_t n_threads):
    """out = X - mean (out may be X); returns the column means (float64)."""
    import numpy as np
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef double[::1] mean = np.zeros(d)
    cdef int status
    if out.shape[0] != n or out.shape[1] != d:
        raise ValueError("out has the wrong shape")
    if n == 0 or d == 0:
        return mean.base
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_kmeans_center_f32(n, d, &X[0, 0], &out[0, 0], &mean[0], n_threads)
        else:
            status = fml_kmeans_center_f64(n, d, &X[0, 0], &out[0, 0], &mean[0], n_threads)
    raise_for_status(status, "KMeans")
    return mean.base


def inertia(const floating[:, ::1] X, const floating[::1] sample_weight,
            const floating[:, ::1] centers, const int32_t[::1] labels, int64_t n_threads):
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef double out = 0
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_kmeans_inertia_f32(n, d, &X[0, 0], &sample_weight[0], &centers[0, 0],
                                            &labels[0], &out, n_threads)
        else:
            status = fml_kmeans_inertia_f64(n, d, &X[0, 0], &sample_weight[0], &centers[0, 0],
                                            &labels[0], &out, n_threads)
    raise_for_status(status, "KMeans")
    return out


def point_d2(const floating[:, ::1] X, const floating[:, ::1] centers,
             const int32_t[::1] labels, double[::1] out, int64_t n_threads):
    """out[i] = exact squared distance from row i to its centre."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            fml_kmeans_point_d2_f32(n, d, &X[0, 0], &centers[0, 0], &labels[0], &out[0], n_threads)
        else:
            fml_kmeans_point_d2_f64(n, d, &X[0, 0], &centers[0, 0], &labels[0], &out[0], n_threads)


def bounds_move(const int32_t[::1] labels, const double[::1] shift, int32_t top, double top_drift,
                double second_drift, double[::1] upper, double[::1] lower, int64_t n_threads):
    """Loosen Hamerly's bounds after the centres moved (in place)."""
    fml_interrupt_arm()
    with nogil:
        fml_kmeans_bounds_move(labels.shape[0], &labels[0], &shift[0], top, top_drift,
                               second_drift, &upper[0], &lower[0], n_threads)
