# _conv.pyx: bindings of csrc/conv (convolution forward/backward, pooling, batch
# norm, ReLU).  fastml/nn/functional/_conv.py validates every argument, computes
# the geometry and allocates the outputs; arrays arrive C-contiguous and
# flattened to 1-D (an empty array stands for "not wanted" / NULL).
from cython cimport floating
from libc.stdint cimport int64_t

from fastml._lib.fml cimport *

cdef extern from "conv/conv.h":
    ctypedef struct fml_conv2d_geom:
        int64_t n, c, h, w, o, kh, kw, sh, sw, ph0, ph1, pw0, pw1, dh, dw, groups, ho, wo
    int fml_conv_init(int level)
    int fml_conv2d_algorithm_f32(const fml_conv2d_geom *g)
    int fml_conv2d_algorithm_f64(const fml_conv2d_geom *g)
    int fml_conv_set_packed(int on)
    int fml_conv_set_wino2(int mode)
    int fml_conv2d_forward_f32(const fml_conv2d_geom *g, const float *x, const float *w,
                               const float *bias, int act, float *y, int64_t n_threads) nogil
    int fml_conv2d_forward_f64(const fml_conv2d_geom *g, const double *x, const double *w,
                               const double *bias, int act, double *y, int64_t n_threads) nogil
    int fml_conv2d_backward_f32(const fml_conv2d_geom *g, const float *gy, const float *x,
                                const float *w, float *gx, float *gw, float *gb,
                                int64_t n_threads) nogil
    int fml_conv2d_backward_f64(const fml_conv2d_geom *g, const double *gy, const double *x,
                                const double *w, double *gx, double *gw, double *gb,
                                int64_t n_threads) nogil
    int fml_max_pool2d_f32(const fml_conv2d_geom *g, const float *x, float *y, int64_t *idx,
                           int64_t n_threads) nogil
    int fml_max_pool2d_f64(const fml_conv2d_geom *g, const double *x, double *y, int64_t *idx,
                           int64_t n_threads) nogil
    int fml_max_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy,
                                    const int64_t *idx, float *gx, int64_t n_threads) nogil
    int fml_max_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy,
                                    const int64_t *idx, double *gx, int64_t n_threads) nogil
    int fml_avg_pool2d_f32(const fml_conv2d_geom *g, const float *x, int cip, int64_t div,
                           float *y, int64_t n_threads) nogil
    int fml_avg_pool2d_f64(const fml_conv2d_geom *g, const double *x, int cip, int64_t div,
                           double *y, int64_t n_threads) nogil
    int fml_avg_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy, int cip,
                                    int64_t div, float *gx, int64_t n_threads) nogil
    int fml_avg_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy, int cip,
                                    int64_t div, double *gx, int64_t n_threads) nogil
    int fml_adaptive_avg_pool2d_f32(const fml_conv2d_geom *g, const float *x, float *y,
                                    int64_t n_threads) nogil
    int fml_adaptive_avg_pool2d_f64(const fml_conv2d_geom *g, const double *x, double *y,
                                    int64_t n_threads) nogil
    int fml_adaptive_avg_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy,
                                             float *gx, int64_t n_threads) nogil
    int fml_adaptive_avg_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy,
                                             double *gx, int64_t n_threads) nogil
    int fml_batch_stats_f32(int64_t n, int64_t c, int64_t hw, const float *x, double *mean,
                            double *var, int64_t n_threads) nogil
    int fml_batch_stats_f64(int64_t n, int64_t c, int64_t hw, const double *x, double *mean,
                            double *var, int64_t n_threads) nogil
    int fml_channel_affine_f32(int64_t n, int64_t c, int64_t hw, const float *x,
                               const float *scale, const float *shift, int act, float *y,
                               int64_t n_threads) nogil
    int fml_channel_affine_f64(int64_t n, int64_t c, int64_t hw, const double *x,
                               const double *scale, const double *shift, int act, double *y,
                               int64_t n_threads) nogil
    int fml_relu_f32(int64_t len, const float *x, float *y, int64_t n_threads) nogil
    int fml_relu_f64(int64_t len, const double *x, double *y, int64_t n_threads) nogil

cdef extern from "conv/conv_kernels.h":
    ctypedef struct fml_conv_kernels:
        const char *name
    const fml_conv_kernels *fml_conv_kernels_get()

GEOM_FIELDS = ("n", "c", "h", "w", "o", "kh", "kw", "sh", "sw", "ph0", "ph1", "pw0", "pw1",
               "dh", "dw", "groups", "ho", "wo")

_level = fml_conv_init(fml_cpu_select())


def set_simd(str level):
    levels = ("scalar", "avx2", "avx512")
    return fml_simd_name(fml_conv_init(min(levels.index(level), fml_cpu_detect()))).decode()


def kernels_name():
    return fml_conv_kernels_get().name.decode()


cdef fml_conv2d_geom _geom(tuple t) except *:
    cdef fml_conv2d_geom g
    (g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph0, g.ph1, g.pw0, g.pw1,
     g.dh, g.dw, g.groups, g.ho, g.wo) = t
    return g


ALGORITHMS = ("flat", "channels_in_lanes", "winograd", "rows", "packed", "winograd_s2")


def set_packed(bint on):
    """Whether dense flat-pixel convolutions pack their pixels ('packed', the
    default) or read the planes in place ('flat'); same bits either way.  For
    tests.  Returns the previous setting."""
    return bool(fml_conv_set_packed(on))


def set_winograd_s2(int mode):
    """When 3x3 stride-2 convolutions use the Winograd-style pass
    ('winograd_s2'): 0 never (the direct kernels), 1 when the shape qualifies
    (the default), 2 whenever the pass can run it.  For tests and
    measurements.  Returns the previous mode."""
    return fml_conv_set_wino2(mode)


def algorithm(tuple geom, bint is_f64):
    """Name of the forward kernel conv2d_forward would run for geom."""
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int a = fml_conv2d_algorithm_f64(&g) if is_f64 else fml_conv2d_algorithm_f32(&g)
    if a < 0:
        raise MemoryError("conv2d: could not allocate scratch memory")
    return ALGORITHMS[a]


def conv2d_forward(tuple geom, const floating[::1] x, const floating[::1] w,
                   const floating[::1] bias, floating[::1] y, int act, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_conv2d_forward_f32(&g, &x[0], &w[0], b, act, &y[0], n_threads)
        else:
            status = fml_conv2d_forward_f64(&g, &x[0], &w[0], b, act, &y[0], n_threads)
    raise_for_status(status, "conv2d")


def conv2d_backward(tuple geom, const floating[::1] gy, const floating[::1] x,
                    const floating[::1] w, floating[::1] gx, floating[::1] gw,
                    floating[::1] gb, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    cdef floating *pgx = &gx[0] if gx.shape[0] > 0 else NULL
    cdef floating *pgw = &gw[0] if gw.shape[0] > 0 else NULL
    cdef floating *pgb = &gb[0] if gb.shape[0] > 0 else NULL
    cdef const floating *px = &x[0] if x.shape[0] > 0 else NULL
    cdef const floating *pw = &w[0] if w.shape[0] > 0 else NULL
    cdef const floating *pgy = &gy[0] if gy.shape[0] > 0 else NULL
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_conv2d_backward_f32(&g, pgy, px, pw, pgx, pgw, pgb, n_threads)
        else:
            status = fml_conv2d_backward_f64(&g, pgy, px, pw, pgx, pgw, pgb, n_threads)
    raise_for_status(status, "conv2d_backward")


def max_pool2d(tuple geom, const floating[::1] x, floating[::1] y, int64_t[::1] idx,
               int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    cdef int64_t *pi = &idx[0] if idx.shape[0] > 0 else NULL
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_max_pool2d_f32(&g, &x[0], &y[0], pi, n_threads)
        else:
            status = fml_max_pool2d_f64(&g, &x[0], &y[0], pi, n_threads)
    raise_for_status(status, "max_pool2d")


def max_pool2d_backward(tuple geom, const floating[::1] gy, const int64_t[::1] idx,
                        floating[::1] gx, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_max_pool2d_backward_f32(&g, &gy[0], &idx[0], &gx[0], n_threads)
        else:
            status = fml_max_pool2d_backward_f64(&g, &gy[0], &idx[0], &gx[0], n_threads)
    raise_for_status(status, "max_pool2d_backward")


def avg_pool2d(tuple geom, const floating[::1] x, floating[::1] y, bint count_include_pad,
               int64_t divisor_override, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_avg_pool2d_f32(&g, &x[0], count_include_pad, divisor_override, &y[0],
                                        n_threads)
        else:
            status = fml_avg_pool2d_f64(&g, &x[0], count_include_pad, divisor_override, &y[0],
                                        n_threads)
    raise_for_status(status, "avg_pool2d")


def avg_pool2d_backward(tuple geom, const floating[::1] gy, floating[::1] gx,
                        bint count_include_pad, int64_t divisor_override, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_avg_pool2d_backward_f32(&g, &gy[0], count_include_pad,
                                                 divisor_override, &gx[0], n_threads)
        else:
            status = fml_avg_pool2d_backward_f64(&g, &gy[0], count_include_pad,
                                                 divisor_override, &gx[0], n_threads)
    raise_for_status(status, "avg_pool2d_backward")


def adaptive_avg_pool2d(tuple geom, const floating[::1] x, floating[::1] y, int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_adaptive_avg_pool2d_f32(&g, &x[0], &y[0], n_threads)
        else:
            status = fml_adaptive_avg_pool2d_f64(&g, &x[0], &y[0], n_threads)
    raise_for_status(status, "adaptive_avg_pool2d")


def adaptive_avg_pool2d_backward(tuple geom, const floating[::1] gy, floating[::1] gx,
                                 int64_t n_threads):
    cdef fml_conv2d_geom g = _geom(geom)
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_adaptive_avg_pool2d_backward_f32(&g, &gy[0], &gx[0], n_threads)
        else:
            status = fml_adaptive_avg_pool2d_backward_f64(&g, &gy[0], &gx[0], n_threads)
    raise_for_status(status, "adaptive_avg_pool2d_backward")


def batch_stats(const floating[::1] x, int64_t n, int64_t c, int64_t hw, double[::1] mean,
                double[::1] var, int64_t n_threads):
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_batch_stats_f32(n, c, hw, &x[0], &mean[0], &var[0], n_threads)
        else:
            status = fml_batch_stats_f64(n, c, hw, &x[0], &mean[0], &var[0], n_threads)
    raise_for_status(status, "batch_norm")


def channel_affine(const floating[::1] x, int64_t n, int64_t c, int64_t hw,
                   const floating[::1] scale, const floating[::1] shift, int act,
                   floating[::1] y, int64_t n_threads):
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_channel_affine_f32(n, c, hw, &x[0], &scale[0], &shift[0], act, &y[0],
                                            n_threads)
        else:
            status = fml_channel_affine_f64(n, c, hw, &x[0], &scale[0], &shift[0], act, &y[0],
                                            n_threads)
    raise_for_status(status, "batch_norm")


def relu(const floating[::1] x, floating[::1] y, int64_t n_threads):
    cdef int status
    fml_interrupt_arm()
    with nogil:
        if floating is float:
            status = fml_relu_f32(x.shape[0], &x[0], &y[0], n_threads)
        else:
            status = fml_relu_f64(x.shape[0], &x[0], &y[0], n_threads)
    raise_for_status(status, "relu")
