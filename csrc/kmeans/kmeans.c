/* kmeans.c: k-means steps for float and double (bodies in kmeans_impl.h).
 * The distance tiles come from the fused GEMM of csrc/core (fml_gemm.h); the
 * steps add only argmin / top-2 epilogues, bounds and chunked sums. */
#include "kmeans/kmeans.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_gemm.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"
#include "core/fml_cpu.h"
#include "kmeans/kmeans_kernels.h"
#include "distance/distance_i8.h"
#include "core/fml_interrupt.h"

/* At most this many chunks, so partial sums stay at most 64 x k x d doubles. */
#define FML_KMEANS_MAX_CHUNKS 64
/* Work (flops) per thread below which a step stays on one thread. */
#define FML_KMEANS_MIN_WORK_PER_THREAD 4.0e6

static fml_kmeans_kernels g_kernels;

/* Rows per chunk: about FML_KMEANS_CHUNK, at most FML_KMEANS_MAX_CHUNKS chunks,
 * and a multiple of 336 = lcm of every GEMM tile height (4, 6, 14) and SIMD
 * width (4, 8, 16) so that a chunk starts on a panel of the packed X.  Depends
 * on n only. */
static int64_t kmeans_chunk_rows(int64_t n)
{
    int64_t c = (n + FML_KMEANS_CHUNK - 1) / FML_KMEANS_CHUNK;
    c = c < 1 ? 1 : (c > FML_KMEANS_MAX_CHUNKS ? FML_KMEANS_MAX_CHUNKS : c);
    const int64_t rows = (n + c - 1) / c;
    return (rows + 335) / 336 * 336;
}

static int64_t kmeans_n_chunks(int64_t n)
{
    const int64_t rows = kmeans_chunk_rows(n);
    return n <= 0 ? 1 : (n + rows - 1) / rows;
}

static int64_t kmeans_chunk_start(int64_t n, int64_t c)
{
    const int64_t r = c * kmeans_chunk_rows(n);
    return r < n ? r : n;
}

int64_t fml_kmeans_workspace_len(int64_t n, int64_t k, int64_t d)
{
    return kmeans_n_chunks(n) * (k * d + k);
}

/* ---- the int8 assignment (kmeans_i8_impl.h) ------------------------------ */

static int g_level = -1;
static int g_i8_allowed = 1;     /* fml_kmeans_i8(0) turns it off */

/* Used at exactly the avx2 level, as knn's (at avx512 the float32 GEMM runs
 * at the int8 rate of 256-bit vectors), for the d the bounds suit. */
static int kmeans_i8_on(int64_t d)
{
#ifndef FML_NO_X86_SIMD
    return g_level == FML_SIMD_AVX2 && g_i8_allowed && d >= FML_I8_MIN_D && d <= FML_I8_MAX_D;
#else
    (void)d;
    return 0;
#endif
}

int fml_kmeans_i8(int allow)
{
    if (allow >= 0) g_i8_allowed = allow != 0;
    if (g_level < 0) fml_kmeans_init(fml_cpu_select());
    return kmeans_i8_on(FML_I8_MIN_D);
}

static int64_t kmeans_i8_kp(int64_t d) { return (d + 7) / 8 * 8; }
static int64_t kmeans_i8_rows(int64_t n) { return (n + 3) / 4 * 4; }

/* X's int8 form: n4 rows of kp bytes, then four float arrays of row terms:
 * sig, alpha, eps (distance_i8.h) and ||x||^2 rounded down. */
typedef struct {
    uint8_t *u;
    float *sig, *alpha, *eps, *xn2;
} kmeans_i8_form;

static size_t kmeans_i8_bytes(int64_t n4, int64_t kp)
{
    return (size_t)(n4 * kp) + 4 * (size_t)n4 * sizeof(float);
}

static kmeans_i8_form kmeans_i8_view(const uint8_t *buf, int64_t n4, int64_t kp)
{
    kmeans_i8_form f;
    f.u = (uint8_t *)buf;
    f.sig = (float *)(f.u + n4 * kp);                 /* n4 * kp: a multiple of 32 */
    f.alpha = f.sig + n4;
    f.eps = f.alpha + n4;
    f.xn2 = f.eps + n4;
    return f;
}

int64_t fml_kmeans_i8_len(int64_t n, int64_t d)
{
    if (g_level < 0) fml_kmeans_init(fml_cpu_select());
    return kmeans_i8_on(d) && n > 0 ? (int64_t)kmeans_i8_bytes(kmeans_i8_rows(n), kmeans_i8_kp(d)) : 0;
}

#ifdef FML_NO_X86_SIMD
void fml_distance_i8_below_avx2(const fml_i8_task *t, const float *thr, uint16_t *below)
{
    (void)t, (void)thr, (void)below;                               /* never called */
}

void fml_distance_i8_estimate_avx2(const fml_i8_task *t, float *v, int32_t *arg)
{
    (void)t, (void)v, (void)arg;
}

void fml_distance_i8_below_of_avx2(const fml_i8_task *t, const float *v, const float *thr,
                                   uint16_t *below)
{
    (void)t, (void)v, (void)thr, (void)below;
}
#endif

#define FT float
#define SFX f32
#define FML_EPS FLT_EPSILON
#include "kmeans/kmeans_i8_impl.h"
#include "kmeans/kmeans_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS

#define FT double
#define SFX f64
#define FML_EPS DBL_EPSILON
#include "kmeans/kmeans_i8_impl.h"
#include "kmeans/kmeans_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS

#define ISA scalar
#define FT float
#define SFX f32
#include "kmeans/kmeans_rows_impl.h"
#include "core/fml_dtype_end.h"
#define FT double
#define SFX f64
#include "kmeans/kmeans_rows_impl.h"
#include "core/fml_dtype_end.h"
#undef ISA

void fml_kmeans_kernels_scalar(fml_kmeans_kernels *t)
{
    t->assign_lanes_f32 = assign_lanes_scalar_f32;
    t->assign_lanes_f64 = assign_lanes_scalar_f64;
    t->lanes_f32 = 1;
    t->lanes_f64 = 1;
    t->add_rows_f32 = add_rows_f32__scalar;
    t->add_rows_f64 = add_rows_f64__scalar;
    t->weighted_d2_f32 = weighted_d2_f32__scalar;
    t->weighted_d2_f64 = weighted_d2_f64__scalar;
    t->exact_d2_f32 = exact_d2_f32__scalar;
    t->exact_d2_f64 = exact_d2_f64__scalar;
    t->row_argmin_f32 = row_argmin_scalar_f32;
    t->row_argmin_f64 = row_argmin_scalar_f64;
}

int fml_kmeans_init(int level)
{
    level = fml_gemm_init(level);
#ifndef FML_NO_X86_SIMD
    if (level >= FML_SIMD_AVX512) fml_kmeans_kernels_avx512(&g_kernels);
    else if (level >= FML_SIMD_AVX2) fml_kmeans_kernels_avx2(&g_kernels);
    else
#endif
        fml_kmeans_kernels_scalar(&g_kernels);
    return g_level = level;
}

int64_t fml_kmeans_lanes_len(int64_t n, int64_t d, int is_f64)
{
    const int64_t vl = is_f64 ? g_kernels.lanes_f64 : g_kernels.lanes_f32;
    return (n + vl - 1) / vl * vl * d;
}

int fml_kmeans_bounds_move(int64_t n, const int32_t *labels, const double *shift, int32_t top,
                           double top_drift, double second_drift, double *upper, double *lower,
                           int64_t n_threads)
{
    const int64_t n_chunks = kmeans_n_chunks(n);
    const int nt = fml_threads_for(n_threads, n_chunks, 4.0 * (double)n, 1.0e6);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
        for (int64_t i = r0; i < r1; i++) {
            const int32_t a = labels[i];
            upper[i] += shift[a];
            const double l = lower[i] - (a == top ? second_drift : top_drift);
            lower[i] = l > 0 ? l : 0;
        }
    }
    return FML_OK;
}
