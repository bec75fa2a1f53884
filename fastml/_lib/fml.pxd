# fml.pxd: C declarations of csrc/ shared by every binding, and status -> exception.
from libc.stdint cimport int64_t

cdef extern from "core/fml_status.h":
    int FML_OK
    int FML_ENOMEM
    int FML_EINVAL
    int FML_EINTERNAL
    int FML_EINTR

cdef extern from "core/fml_interrupt.h":
    void fml_interrupt_take "fml_interrupt_arm"() nogil

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef inline int fml_interrupt_arm() except -1:
    """Call right before releasing the GIL: takes the interrupt token, then
    raises a SIGINT that reached Python's handler earlier in this call (while
    no bytecode ran to raise it), so no signal falls between the two."""
    fml_interrupt_take()
    PyErr_CheckSignals()
    return 0

cdef extern from "core/fml_cpu.h":
    int fml_cpu_detect()
    int fml_cpu_select()
    const char *fml_simd_name(int level)

cdef extern from "core/fml_threads.h":
    int fml_threads_openmp_enabled()
    int fml_threads_omp_max()
    void fml_threads_omp_set(int n)
    int fml_threads_forked()

cdef extern from "core/fml_gemm.h":
    ctypedef float (*fma_loop_f32)(int64_t) noexcept nogil
    ctypedef double (*fma_loop_f64)(int64_t) noexcept nogil
    ctypedef struct fml_gemm_kernel_f32:
        const char *name
        int64_t mr, nr, kc, mc, nc
        fma_loop_f32 fma_loop
        int64_t flops_per_iter
    ctypedef struct fml_gemm_kernel_f64:
        const char *name
        int64_t mr, nr, kc, mc, nc
        fma_loop_f64 fma_loop
        int64_t flops_per_iter
    int fml_gemm_init(int level)
    const fml_gemm_kernel_f32 *fml_gemm_kernel_get_f32()
    const fml_gemm_kernel_f64 *fml_gemm_kernel_get_f64()
    int fml_gemm_batch_f32(int64_t batch, int64_t m, int64_t n, int64_t k,
                           const float *a, const int64_t *a_off, int64_t rsa, int64_t csa,
                           const float *b, const int64_t *b_off, int64_t rsb, int64_t csb,
                           float *c, const int64_t *c_off, int64_t ldc, int64_t n_threads) nogil
    int fml_gemm_batch_f64(int64_t batch, int64_t m, int64_t n, int64_t k,
                           const double *a, const int64_t *a_off, int64_t rsa, int64_t csa,
                           const double *b, const int64_t *b_off, int64_t rsb, int64_t csb,
                           double *c, const int64_t *c_off, int64_t ldc, int64_t n_threads) nogil


cdef inline int raise_for_status(int status, str name) except -1:
    """Turn an FML_* status from C into the matching Python exception."""
    if status == FML_OK:
        return 0
    if status & FML_EINTR:              # Ctrl-C: raise what Python's SIGINT handler raises
        PyErr_CheckSignals()
        raise KeyboardInterrupt
    if status & FML_ENOMEM:
        raise MemoryError(f"{name}: could not allocate scratch memory")
    if status & FML_EINVAL:
        raise ValueError(f"{name}: invalid argument reached the C kernel")
    raise RuntimeError(f"{name}: internal error (status {status})")
