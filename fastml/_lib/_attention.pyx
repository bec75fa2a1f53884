# _attention.pyx: bindings of csrc/attention (flash attention forward/backward,
# transformer row kernels).  fastml/nn/functional/ validates shapes and dtypes,
# makes rows contiguous and computes the per-problem offsets (in elements from
# each array's data pointer); this file only converts, releases the GIL and
# maps status codes.
cimport numpy as cnp
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t

from fastml._lib.fml cimport *

cnp.import_array()

cdef extern from "attention/attention_kernels.h":
    int fml_attention_init(int level)
    ctypedef struct fml_attention_kernels_f32:
        const char *name
        int64_t mr, nr
    ctypedef struct fml_attention_kernels_f64:
        const char *name
        int64_t mr, nr
    const fml_attention_kernels_f32 *fml_attention_kernels_get_f32()
    const fml_attention_kernels_f64 *fml_attention_kernels_get_f64()

cdef extern from "attention/attention.h":
    ctypedef struct fml_attention_args:
        int64_t batch, L, S, E, Ev
        const int64_t *q_off
        const int64_t *k_off
        const int64_t *v_off
        const int64_t *mask_off
        int64_t ldq, ldk, ldv, mask_ld
        int causal
        double scale
        double dropout_p
        uint64_t seed
    int fml_attention_forward_f32(const fml_attention_args *args, const float *q, const float *k,
                                  const float *v, const float *mask, float *out, float *lse,
                                  int64_t n_threads) nogil
    int fml_attention_forward_f64(const fml_attention_args *args, const double *q,
                                  const double *k, const double *v, const double *mask,
                                  double *out, double *lse, int64_t n_threads) nogil
    int fml_attention_backward_f32(const fml_attention_args *args, const float *q,
                                   const float *k, const float *v, const float *mask,
                                   const float *out, const float *lse, const float *dout,
                                   float *dq, float *dk, float *dv, int64_t n_threads) nogil
    int fml_attention_backward_f64(const fml_attention_args *args, const double *q,
                                   const double *k, const double *v, const double *mask,
                                   const double *out, const double *lse, const double *dout,
                                   double *dq, double *dk, double *dv, int64_t n_threads) nogil

SIMD_LEVELS = ("scalar", "avx2", "avx512")

_selected = fml_attention_init(fml_cpu_select())


def set_simd(str level):
    """Select `level` (capped at what the CPU has) for this module; returns the level used."""
    global _selected
    _selected = fml_attention_init(min(SIMD_LEVELS.index(level), fml_cpu_detect()))
    return fml_simd_name(_selected).decode()


def kernel_info(str dtype):
    if dtype == "float32":
        k32 = fml_attention_kernels_get_f32()
        return {"name": k32.name.decode(), "mr": k32.mr, "nr": k32.nr}
    k64 = fml_attention_kernels_get_f64()
    return {"name": k64.name.decode(), "mr": k64.mr, "nr": k64.nr}


cdef inline void *_data(cnp.ndarray a):
    return NULL if a is None else cnp.PyArray_DATA(a)


cdef fml_attention_args _args(int64_t batch, int64_t L, int64_t S, int64_t E, int64_t Ev,
                              const int64_t[::1] offs, tuple ld, bint causal, double scale,
                              double dropout_p, uint64_t seed):
    """offs: the four offset arrays concatenated (q, k, v, mask), `batch` each."""
    cdef fml_attention_args a
    a.batch, a.L, a.S, a.E, a.Ev = batch, L, S, E, Ev
    a.q_off = &offs[0]
    a.k_off = &offs[batch]
    a.v_off = &offs[2 * batch]
    a.mask_off = &offs[3 * batch]
    a.ldq, a.ldk, a.ldv, a.mask_ld = ld
    a.causal = causal
    a.scale = scale
    a.dropout_p = dropout_p
    a.seed = seed
    return a


def forward(cnp.ndarray q, cnp.ndarray k, cnp.ndarray v, cnp.ndarray mask, cnp.ndarray out,
            cnp.ndarray lse, int64_t batch, int64_t L, int64_t S, int64_t E, int64_t Ev,
            const int64_t[::1] offs, tuple ld, bint causal, double scale, double dropout_p,
            uint64_t seed, int64_t n_threads):
    """out (batch, L, Ev) and lse (batch, L, or None) for problems described by offs/ld."""
    cdef fml_attention_args a = _args(batch, L, S, E, Ev, offs, ld, causal, scale, dropout_p, seed)
    cdef int status
    cdef bint f32 = out.itemsize == 4
    cdef void *pq = _data(q)
    cdef void *pk = _data(k)
    cdef void *pv = _data(v)
    cdef void *pm = _data(mask)
    cdef void *po = _data(out)
    cdef void *pl = _data(lse)
    fml_interrupt_arm()
    with nogil:
        if f32:
            status = fml_attention_forward_f32(&a, <const float *>pq, <const float *>pk,
                                               <const float *>pv, <const float *>pm,
                                               <float *>po, <float *>pl, n_threads)
        else:
            status = fml_attention_forward_f64(&a, <const double *>pq, <const double *>pk,
                                               <const double *>pv, <const double *>pm,
                                               <double *>po, <double *>pl, n_threads)
    raise_for_status(status, "scaled_dot_product_attention")


def backward(cnp.ndarray q, cnp.ndarray k, cnp.ndarray v, cnp.ndarray mask, cnp.ndarray out,
             cnp.ndarray lse, cnp.ndarray dout, cnp.ndarray dq, cnp.ndarray dk, cnp.ndarray dv,
             int64_t batch, int64_t L, int64_t S, int64_t E, int64_t Ev,
             const int64_t[::1] offs, tuple ld, bint causal, double scale, double dropout_p,
             uint64_t seed, int64_t n_threads):
    """dq (batch, L, E), dk (batch, S, E), dv (batch, S, Ev); out/lse/dout contiguous."""
    cdef fml_attention_args a = _args(batch, L, S, E, Ev, offs, ld, causal, scale, dropout_p, seed)
    cdef int status
    cdef bint f32 = dq.itemsize == 4
    cdef void *pq = _data(q)
    cdef void *pk = _data(k)
    cdef void *pv = _data(v)
    cdef void *pm = _data(mask)
    cdef void *po = _data(out)
    cdef void *pl = _data(lse)
    cdef void *pd = _data(dout)
    cdef void *pdq = _data(dq)
    cdef void *pdk = _data(dk)
    cdef void *pdv = _data(dv)
    fml_interrupt_arm()
    with nogil:
        if f32:
            status = fml_attention_backward_f32(&a, <const float *>pq, <const float *>pk,
                                                <const float *>pv, <const float *>pm,
                                                <const float *>po, <const float *>pl,
                                                <const float *>pd, <float *>pdq, <float *>pdk,
                                                <float *>pdv, n_threads)
        else:
            status = fml_attention_backward_f64(&a, <const double *>pq, <const double *>pk,
                                                <const double *>pv, <const double *>pm,
                                                <const double *>po, <const double *>pl,
                                                <const double *>pd, <double *>pdq,
                                                <double *>pdk, <double *>pdv, n_threads)
    raise_for_status(status, "scaled_dot_product_attention_backward")


cdef extern from "attention/attention.h":
    int64_t fml_attention_kb
    int64_t fml_attention_qrows


def _set_blocking(int64_t kb, int64_t qrows):
    """Tuning aid: keys per block (8..256) and query rows per task; returns the old pair."""
    global fml_attention_kb, fml_attention_qrows
    if not 8 <= kb <= 256 or qrows < 1:
        raise ValueError("kb must be in [8, 256] and qrows >= 1")
    old = (fml_attention_kb, fml_attention_qrows)
    fml_attention_kb, fml_attention_qrows = kb, qrows
    return old


cdef extern from "attention/transformer.h":
    int fml_softmax_f32(int64_t rows, int64_t n, const float *x, float *y, int log_out,
                        int64_t n_threads) nogil
    int fml_softmax_f64(int64_t rows, int64_t n, const double *x, double *y, int log_out,
                        int64_t n_threads) nogil
    int fml_layer_norm_f32(int64_t rows, int64_t n, const float *x, const float *w,
                           const float *b, double eps, float *y, double *mean, double *rstd,
                           int64_t n_threads) nogil
    int fml_layer_norm_f64(int64_t rows, int64_t n, const double *x, const double *w,
                           const double *b, double eps, double *y, double *mean, double *rstd,
                           int64_t n_threads) nogil
    int fml_layer_norm_backward_f32(int64_t rows, int64_t n, const float *x, const float *dy,
                                    const float *w, double eps, float *dx, double *dw,
                                    double *db, int64_t n_threads) nogil
    int fml_layer_norm_backward_f64(int64_t rows, int64_t n, const double *x, const double *dy,
                                    const double *w, double eps, double *dx, double *dw,
                                    double *db, int64_t n_threads) nogil
    int fml_gelu_f32(int64_t n, const float *x, float *y, int approximate, int64_t n_threads) nogil
    int fml_gelu_f64(int64_t n, const double *x, double *y, int approximate,
                     int64_t n_threads) nogil
    int fml_dropout_f32(int64_t n, const float *x, float *y, double p, uint64_t seed,
                        int64_t n_threads) nogil
    int fml_dropout_f64(int64_t n, const double *x, double *y, double p, uint64_t seed,
                        int64_t n_threads) nogil
    int fml_linear_f32(int64_t m, int64_t k, int64_t n, const float *x, int64_t ldx,
                       const float *w, const float *b, int activation, float *y,
                       int64_t n_threads) nogil
    int fml_linear_f64(int64_t m, int64_t k, int64_t n, const double *x, int64_t ldx,
                       const double *w, const double *b, int activation, double *y,
                       int64_t n_threads) nogil


def softmax(const floating[:, ::1] x, floating[:, ::1] y, bint log_out, int64_t n_threads):
    """Rows of x (softmax or log_softmax) into y."""
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_softmax_f32(x.shape[0], x.shape[1], &x[0, 0], &y[0, 0], log_out, n_threads)
        else:
            status = fml_softmax_f64(x.shape[0], x.shape[1], &x[0, 0], &y[0, 0], log_out, n_threads)
    raise_for_status(status, "softmax")


def layer_norm(const floating[:, ::1] x, cnp.ndarray w, cnp.ndarray b, double eps,
               floating[:, ::1] y, double[::1] mean, double[::1] rstd, int64_t n_threads):
    """Rows of x normalised into y; w, b (n,) or None; mean/rstd (rows,) outputs."""
    cdef int status
    cdef void *pw = _data(w)
    cdef void *pb = _data(b)
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_layer_norm_f32(x.shape[0], x.shape[1], &x[0, 0], <const float *>pw,
                                        <const float *>pb, eps, &y[0, 0], &mean[0], &rstd[0],
                                        n_threads)
        else:
            status = fml_layer_norm_f64(x.shape[0], x.shape[1], &x[0, 0], <const double *>pw,
                                        <const double *>pb, eps, &y[0, 0], &mean[0], &rstd[0],
                                        n_threads)
    raise_for_status(status, "layer_norm")


def layer_norm_backward(const floating[:, ::1] x, const floating[:, ::1] dy, cnp.ndarray w,
                        double eps, floating[:, ::1] dx, cnp.ndarray dw, cnp.ndarray db,
                        int64_t n_threads):
    """dx (rows, n); dw, db float64 (n,) or None."""
    cdef int status
    cdef void *pw = _data(w)
    cdef double *pdw = <double *>_data(dw)
    cdef double *pdb = <double *>_data(db)
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_layer_norm_backward_f32(x.shape[0], x.shape[1], &x[0, 0], &dy[0, 0],
                                                 <const float *>pw, eps, &dx[0, 0], pdw, pdb,
                                                 n_threads)
        else:
            status = fml_layer_norm_backward_f64(x.shape[0], x.shape[1], &x[0, 0], &dy[0, 0],
                                                 <const double *>pw, eps, &dx[0, 0], pdw, pdb,
                                                 n_threads)
    raise_for_status(status, "layer_norm_backward")


def gelu(const floating[::1] x, floating[::1] y, bint approximate, int64_t n_threads):
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_gelu_f32(x.shape[0], &x[0], &y[0], approximate, n_threads)
        else:
            status = fml_gelu_f64(x.shape[0], &x[0], &y[0], approximate, n_threads)
    raise_for_status(status, "gelu")


def dropout(const floating[::1] x, floating[::1] y, double p, uint64_t seed, int64_t n_threads):
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_dropout_f32(x.shape[0], &x[0], &y[0], p, seed, n_threads)
        else:
            status = fml_dropout_f64(x.shape[0], &x[0], &y[0], p, seed, n_threads)
    raise_for_status(status, "dropout")


def linear(cnp.ndarray x, const floating[:, ::1] w, cnp.ndarray b, int activation,
           floating[:, ::1] y, int64_t n_threads):
    """y = act(x W^T + b); x 2-D with unit column stride (any row stride)."""
    cdef int status
    cdef int64_t m = y.shape[0], n = y.shape[1], k = w.shape[1]
    cdef int64_t ldx = x.strides[0] // x.itemsize if m > 1 else k
    cdef void *px = _data(x)
    cdef void *pb = _data(b)
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_linear_f32(m, k, n, <const float *>px, ldx, &w[0, 0], <const float *>pb,
                                    activation, &y[0, 0], n_threads)
        else:
            status = fml_linear_f64(m, k, n, <const double *>px, ldx, &w[0, 0], <const double *>pb,
                                    activation, &y[0, 0], n_threads)
    raise_for_status(status, "linear")
