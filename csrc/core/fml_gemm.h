/* fml_gemm.h: fastml's packed, cache-blocked GEMM and its fused-epilogue interface.
 *
 *   C[i, j] = sum_p A[i, p] * B[p, j]       A: m x k, B: k x n, C: m x n
 *
 * Operands are read through element strides (A[i, p] = a[i*rsa + p*csa]), so
 * transposed and strided NumPy views need no copy: packing reads them.  C is
 * written row-major with leading dimension ldc.
 *
 * Structure (BLIS-style, the ISA only enters through the micro-kernel):
 *
 *   pack B once        k x n  ->  NR-wide column panels, each k x NR contiguous
 *   for each task (row block i0..i0+MC, column block j0..j0+NC)     <- threads
 *     for p0 in steps of KC                                          <- fixed order
 *       pack A[i0:i0+MC, p0:p0+KC] into MR-high row panels (thread scratch, L2)
 *       for each NR panel j of the block      (B micro-panel KC x NR stays in L1)
 *         for each MR panel i of the block    (A micro-panel streams from L2)
 *           ukr: C tile (MR x NR) (+)= A panel * B panel
 *
 * Determinism: every C element is produced by the same micro-kernel calls in the
 * same p0 order whatever the thread count or schedule, so results are
 * bit-identical for 1 and 2 threads and across calls.
 *
 * Micro-kernel contract (fml_gemm_ukr_<MR>x<NR>_<dtype>__<isa>):
 *   a: packed A micro-panel, a[p*MR + i] for p < k, i < MR (rows >= m are zero)
 *   b: packed B micro-panel, b[p*NR + j] for p < k, j < NR (cols >= n are zero)
 *   c: C tile, C[i, j] = c[i*ldc + j]; only i < m <= MR and j < n <= NR are
 *      touched.  accumulate == 0: C = A*B and C is never read (it may hold
 *      garbage or NaN).  accumulate != 0: C += A*B.
 *   a and b are 64-byte aligned; c has no alignment requirement.
 *   pack_a_panel packs one full MR-row panel (MR a constant in the ISA file).
 *
 * Fused epilogues (distances, k-means, convolution, attention):
 *   fml_gemm_fused_* computes the product block by block into a per-thread tile
 *   that is never a full m x n matrix, and hands each finished block (the whole
 *   k reduction done) to an epilogue while it is hot in L2:
 *
 *     int epilogue(void *ctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb,
 *                  FT *tile, int64_t ldt);   tile[i*ldt + j] = (A B)[i0+i, j0+j]
 *
 *   - Tasks are row blocks of FML_GEMM_FUSED_MB rows; a task visits its column
 *     blocks (FML_GEMM_FUSED_NB wide) in increasing j0, on one thread.  So an
 *     epilogue may keep running per-row state (argmin, top-k heap, online
 *     softmax max/sum, accumulators) for rows i0..i0+mb without locks, and the
 *     result does not depend on the thread count.
 *   - It may read and overwrite the tile (add row/column norms, scale, clamp,
 *     bias + activation) and write the caller's outputs for its own rows.
 *   - It returns an FML_* status; a failure stops that task and is returned.
 *   - B is packed once by fml_gemm_pack_b_* and can be reused across calls (the
 *     k-means centres of one iteration, the keys of one attention head).
 */
#ifndef FML_GEMM_H
#define FML_GEMM_H

#include <stdint.h>

#include "core/fml_status.h"

typedef void (*fml_gemm_ukr_f32)(int64_t k, const float *a, const float *b, float *c,
                                 int64_t ldc, int64_t m, int64_t n, int accumulate);
typedef void (*fml_gemm_ukr_f64)(int64_t k, const double *a, const double *b, double *c,
                                 int64_t ldc, int64_t m, int64_t n, int accumulate);

#define FML_GEMM_MAX_MR 16  /* largest register-tile height of any kernel */

/* One SIMD level's GEMM for one dtype: tile shape, blocking and kernels. */
typedef struct {
    const char *name;          /* micro-kernel name, e.g. "ukr_14x32_f32__avx512" */
    int64_t mr, nr;            /* register tile */
    int64_t kc, mc, nc;        /* cache blocking: KC deep, MC x NC C blocks per task */
    fml_gemm_ukr_f32 ukr;
    void (*pack_a_panel)(int64_t kb, const float *a, int64_t rsa, int64_t csa, float *dst);
    float (*fma_loop)(int64_t iters);  /* peak probe: iters * flops_per_iter flops */
    int64_t flops_per_iter;
} fml_gemm_kernel_f32;

typedef struct {
    const char *name;
    int64_t mr, nr;
    int64_t kc, mc, nc;
    fml_gemm_ukr_f64 ukr;
    void (*pack_a_panel)(int64_t kb, const double *a, int64_t rsa, int64_t csa, double *dst);
    double (*fma_loop)(int64_t iters);
    int64_t flops_per_iter;
} fml_gemm_kernel_f64;

/* Fill the kernels of one SIMD level (defined in fml_gemm_ukr_<isa>.c). */
void fml_gemm_kernels_scalar(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64);
void fml_gemm_kernels_avx2(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64);
void fml_gemm_kernels_avx512(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64);

/* Work (flops) per thread below which a GEMM uses fewer threads (calibrated). */
extern double fml_gemm_min_flops_per_thread;

/* Select the kernels of `level` (fml_cpu.h) for this module; returns the level used. */
int fml_gemm_init(int level);
const fml_gemm_kernel_f32 *fml_gemm_kernel_get_f32(void);
const fml_gemm_kernel_f64 *fml_gemm_kernel_get_f64(void);

/* C = A B (C row-major, ldc >= n).  m, n or k may be 0 (k == 0 gives C = 0). */
int fml_gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                 const float *b, int64_t rsb, int64_t csb, float *c, int64_t ldc,
                 int64_t n_threads);
int fml_gemm_f64(int64_t m, int64_t n, int64_t k, const double *a, int64_t rsa, int64_t csa,
                 const double *b, int64_t rsb, int64_t csb, double *c, int64_t ldc,
                 int64_t n_threads);

/* Batched: for t < batch, C_t = A_t B_t with A_t = a + a_off[t] (elements), etc.
 * Equal b_off entries share one packed B.  Threads split batches and blocks. */
int fml_gemm_batch_f32(int64_t batch, int64_t m, int64_t n, int64_t k,
                       const float *a, const int64_t *a_off, int64_t rsa, int64_t csa,
                       const float *b, const int64_t *b_off, int64_t rsb, int64_t csb,
                       float *c, const int64_t *c_off, int64_t ldc, int64_t n_threads);
int fml_gemm_batch_f64(int64_t batch, int64_t m, int64_t n, int64_t k,
                       const double *a, const int64_t *a_off, int64_t rsa, int64_t csa,
                       const double *b, const int64_t *b_off, int64_t rsb, int64_t csb,
                       double *c, const int64_t *c_off, int64_t ldc, int64_t n_threads);

/* ---- fused-epilogue interface --------------------------------------------- */

#define FML_GEMM_FUSED_NB 256   /* columns per epilogue block */

/* B packed for reuse: NR-wide panels, each k x NR, zero-padded to a whole panel. */
typedef struct {
    int64_t k, n, nr;
    void *data;                 /* float or double, 64-byte aligned */
} fml_gemm_packed_b;

int fml_gemm_pack_b_f32(int64_t k, int64_t n, const float *b, int64_t rsb, int64_t csb,
                        fml_gemm_packed_b *out, int64_t n_threads);
int fml_gemm_pack_b_f64(int64_t k, int64_t n, const double *b, int64_t rsb, int64_t csb,
                        fml_gemm_packed_b *out, int64_t n_threads);
void fml_gemm_packed_b_free(fml_gemm_packed_b *pb);

typedef int (*fml_gemm_epilogue_f32)(void *ctx, int64_t i0, int64_t j0, int64_t mb,
                                     int64_t nb, float *tile, int64_t ldt);
typedef int (*fml_gemm_epilogue_f64)(void *ctx, int64_t i0, int64_t j0, int64_t mb,
                                     int64_t nb, double *tile, int64_t ldt);

/* Rows per fused task for the selected kernels (a multiple of MR). */
int64_t fml_gemm_fused_mb_f32(void);
int64_t fml_gemm_fused_mb_f64(void);

/* For each row block of A (m x k) and each column block of B, in order, compute
 * the block of A B into a per-thread tile and call `epilogue` on it. */
int fml_gemm_fused_f32(int64_t m, const float *a, int64_t rsa, int64_t csa,
                       const fml_gemm_packed_b *b, fml_gemm_epilogue_f32 epilogue,
                       void *ctx, int64_t n_threads);
int fml_gemm_fused_f64(int64_t m, const double *a, int64_t rsa, int64_t csa,
                       const fml_gemm_packed_b *b, fml_gemm_epilogue_f64 epilogue,
                       void *ctx, int64_t n_threads);

/* ---- A packed once, for repeated products with the same rows (k-means) ---- */

/* Elements of a whole-k packing of A (m x k): MR-row panels of k x MR each. */
int64_t fml_gemm_packed_a_len_f32(int64_t m, int64_t k);
int64_t fml_gemm_packed_a_len_f64(int64_t m, int64_t k);

/* Pack A into `out` (fml_gemm_packed_a_len elements, caller-owned); *mr_out gets
 * the panel height, to hand back to fml_gemm_fused_packed. */
int fml_gemm_pack_a_f32(int64_t m, int64_t k, const float *a, int64_t rsa, int64_t csa,
                        float *out, int64_t *mr_out, int64_t n_threads);
int fml_gemm_pack_a_f64(int64_t m, int64_t k, const double *a, int64_t rsa, int64_t csa,
                        double *out, int64_t *mr_out, int64_t n_threads);

/* fml_gemm_fused on rows [row0, row0 + m) of a packed A (row0 a multiple of mr;
 * epilogue row indices are relative to row0).  FML_EINVAL if the kernels
 * changed since packing (mr differs). */
int fml_gemm_fused_packed_f32(const float *apack, int64_t mr, int64_t row0, int64_t m,
                              const fml_gemm_packed_b *b, fml_gemm_epilogue_f32 epilogue,
                              void *ctx, int64_t n_threads);
int fml_gemm_fused_packed_f64(const double *apack, int64_t mr, int64_t row0, int64_t m,
                              const fml_gemm_packed_b *b, fml_gemm_epilogue_f64 epilogue,
                              void *ctx, int64_t n_threads);

#endif
