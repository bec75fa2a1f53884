# _core.pyx: bindings of csrc/core: CPU/SIMD selection, OpenMP facts, the GEMM.
# Validation and output allocation happen in Python (fastml/_validation.py,
# fastml/linalg/_matmul.py); this file only converts and calls C without the GIL.
cimport numpy as cnp
from libc.stdint cimport int64_t

from fastml._lib.fml cimport *

cnp.import_array()

cdef extern from *:
    """
    #ifdef __VERSION__
    static const char *fml_compiler_version = __VERSION__;
    #else
    static const char *fml_compiler_version = "unknown";
    #endif
    #ifdef _OPENMP
    static const int fml_openmp_version = _OPENMP;
    #else
    static const int fml_openmp_version = 0;
    #endif
    """
    const char *fml_compiler_version
    const int fml_openmp_version

SIMD_LEVELS = ("scalar", "avx2", "avx512")

_selected = fml_gemm_init(fml_cpu_select())


def build_info():
    """Compiler and OpenMP of this build."""
    return {"compiler": fml_compiler_version.decode(), "openmp": bool(fml_threads_openmp_enabled()),
            "openmp_version": fml_openmp_version}


def simd_detected():
    return fml_simd_name(fml_cpu_detect()).decode()


def simd_selected():
    return fml_simd_name(_selected).decode()


def set_simd(str level):
    """Select `level` (capped at what the CPU has) for this module; returns the level used."""
    global _selected
    _selected = fml_gemm_init(min(SIMD_LEVELS.index(level), fml_cpu_detect()))
    return fml_simd_name(_selected).decode()


def gemm_kernel_info(str dtype):
    if dtype == "float32":
        k32 = fml_gemm_kernel_get_f32()
        return {"name": k32.name.decode(), "mr": k32.mr, "nr": k32.nr, "kc": k32.kc, "mc": k32.mc, "nc": k32.nc}
    k64 = fml_gemm_kernel_get_f64()
    return {"name": k64.name.decode(), "mr": k64.mr, "nr": k64.nr, "kc": k64.kc, "mc": k64.mc, "nc": k64.nc}


def omp_max_threads():
    return fml_threads_omp_max()


def omp_set_threads(int n):
    if not fml_threads_forked():
        fml_threads_omp_set(n)


def forked():
    """True in a child process forked after this module was loaded (fastml then
    runs single-threaded: libgomp's thread pool does not survive fork)."""
    return bool(fml_threads_forked())


def fma_loop(str dtype, int64_t iters):
    """Run the peak probe; returns the flops it executed."""
    cdef const fml_gemm_kernel_f32 *k32 = fml_gemm_kernel_get_f32()
    cdef const fml_gemm_kernel_f64 *k64 = fml_gemm_kernel_get_f64()
    cdef double sink
    if dtype == "float32":
        fml_interrupt_arm()
        with nogil:
            sink = k32.fma_loop(iters)
        return float(iters * k32.flops_per_iter)
    fml_interrupt_arm()
    with nogil:
        sink = k64.fma_loop(iters)
    return float(iters * k64.flops_per_iter)


def gemm2d(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, int64_t n_threads):
    """C = A B for 2-D float arrays of one dtype, shapes already checked; C has unit
    column stride.  The fast path of matmul: shapes and strides are read here."""
    cdef int64_t item = c.itemsize
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef int64_t rsa = a.strides[0] // item, csa = a.strides[1] // item
    cdef int64_t rsb = b.strides[0] // item, csb = b.strides[1] // item
    cdef int64_t ldc = c.strides[0] // item if m > 1 else n
    cdef int64_t zero = 0
    cdef int status
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    fml_interrupt_arm()
    with nogil:
        if item == 4:
            status = fml_gemm_batch_f32(1, m, n, k, <const float *>pa, &zero, rsa, csa,
                                        <const float *>pb, &zero, rsb, csb, <float *>pc, &zero,
                                        ldc, n_threads)
        else:
            status = fml_gemm_batch_f64(1, m, n, k, <const double *>pa, &zero, rsa, csa,
                                        <const double *>pb, &zero, rsb, csb, <double *>pc, &zero,
                                        ldc, n_threads)
    raise_for_status(status, "matmul")


def gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, int64_t batch, int64_t m, int64_t n, int64_t k,
         const int64_t[::1] a_off, int64_t rsa, int64_t csa,
         const int64_t[::1] b_off, int64_t rsb, int64_t csb,
         const int64_t[::1] c_off, int64_t ldc, int64_t n_threads):
    """C_t = A_t B_t for t < batch; strides and offsets in elements from each array's data pointer."""
    cdef int status
    cdef int is_f32 = c.dtype.itemsize == 4
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    fml_interrupt_arm()
    with nogil:
        if is_f32:
            status = fml_gemm_batch_f32(batch, m, n, k, <const float *>pa, &a_off[0], rsa, csa,
                                        <const float *>pb, &b_off[0], rsb, csb,
                                        <float *>pc, &c_off[0], ldc, n_threads)
        else:
            status = fml_gemm_batch_f64(batch, m, n, k, <const double *>pa, &a_off[0], rsa, csa,
                                        <const double *>pb, &b_off[0], rsb, csb,
                                        <double *>pc, &c_off[0], ldc, n_threads)
    raise_for_status(status, "matmul")


def _set_blocking(str dtype, int64_t kc, int64_t mc, int64_t nc):
    """Override the cache blocking of the selected kernels (tuning aid; mc a multiple of MR, nc of NR)."""
    cdef fml_gemm_kernel_f32 *k32 = <fml_gemm_kernel_f32 *>fml_gemm_kernel_get_f32()
    cdef fml_gemm_kernel_f64 *k64 = <fml_gemm_kernel_f64 *>fml_gemm_kernel_get_f64()
    if dtype == "float32":
        if mc % k32.mr or nc % k32.nr or kc < 1:
            raise ValueError("mc must be a multiple of MR and nc of NR")
        k32.kc, k32.mc, k32.nc = kc, mc, nc
    else:
        if mc % k64.mr or nc % k64.nr or kc < 1:
            raise ValueError("mc must be a multiple of MR and nc of NR")
        k64.kc, k64.mc, k64.nc = kc, mc, nc


cdef extern from "core/fml_gemm.h":
    double fml_gemm_min_flops_per_thread


def _set_min_flops_per_thread(double flops):
    """Calibration aid: GEMM work per thread below which fewer threads are used."""
    global fml_gemm_min_flops_per_thread
    fml_gemm_min_flops_per_thread = flops
