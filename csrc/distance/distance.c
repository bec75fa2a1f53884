/* distance.c: the distance family's drivers for float and double (bodies in
 * distance_impl.h), its portable kernels (distance_kernels_impl.h as scalar
 * code) and the per-module kernel selection.  See distance.h for the design. */
#include "distance/distance.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fml_cpu.h"
#include "core/fml_dtype.h"
#include "core/fml_gemm.h"
#include "core/fml_interrupt.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"
#include "distance/distance_amx.h"
#include "distance/distance_i8.h"
#include "distance/distance_kernels.h"

/* Rows of X per task of the direct producer (a multiple of every direct MR). */
#define FML_DIRECT_MB 64
/* Rows per task of the GEMM producer, in MR panels: the B block of a 256-column
 * tile, streamed from memory, serves this many rows (AVX-512 f32: 224). */
#define FML_GEMM_ROW_PANELS 16
/* Columns per tile handed to the consumers. */
#define FML_TILE_NB 256
/* Tasks below which a short X is split along Y too. */
#define FML_MIN_TASKS 8
/* Work per thread (flop-like units) below which a call, or its preprocessing,
 * stays on one thread; same scale as the GEMM's threshold. */
#define FML_DISTANCE_MIN_WORK_PER_THREAD 4.0e6
#define FML_DISTANCE_MIN_PREP_PER_THREAD 2.0e6

/* AMX knn: rows per task, and the candidates a row may hold before giving up */
#define FML_AMX_TASK_ROWS 256
#define FML_AMX_CAP(k) (64 + 4 * (k))
/* int8 knn: 7-bit values leave a wider window between the bounds */
#define FML_I8_CAP(k) (128 + 16 * (k))

enum { FML_CONSUMER_PAIRWISE, FML_CONSUMER_KERNEL, FML_CONSUMER_KNN, FML_CONSUMER_RADIUS };

/* One row of a radius result: (sort key, index) pairs of the row's dtype. */
typedef struct {
    int64_t len, cap;
    void *data;
} fml_radius_row;

struct fml_radius_result {
    int64_t m;
    size_t item;       /* bytes of one pair */
    int is_f64;
    int negate;        /* dot: keys are minus the similarity */
    fml_radius_row *rows;
};

/* ---- portable kernels ------------------------------------------------------ */

#define ISA scalar

#define FT float
#define SFX f32
#define VT float
#define VL 1
#define NV 4
#define MR 4
#define MT int
#define VZERO() 0.0f
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VABS(a) fabsf(a)
#define VSQRT(a) sqrtf(a)
#define VCMPLE(a, b) ((a) <= (b))
#define VCMPNGE(a, b) (!((a) >= (b)))
#define VBLEND(m, a, b) ((m) ? (b) : (a))
#define MBITS(m) ((unsigned)(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT double
#define VL 1
#define NV 4
#define MR 4
#define MT int
#define VZERO() 0.0
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VABS(a) fabs(a)
#define VSQRT(a) sqrt(a)
#define VCMPLE(a, b) ((a) <= (b))
#define VCMPNGE(a, b) (!((a) >= (b)))
#define VBLEND(m, a, b) ((m) ? (b) : (a))
#define MBITS(m) ((unsigned)(m))
#include "distance/distance_kernels_impl.h"
#include "distance/distance_vec_undef.h"
#include "core/fml_dtype_end.h"

#undef ISA

void fml_distance_kernels_scalar(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64)
{
    *k32 = (fml_distance_kernels_f32){"scalar", 4, 4, direct_l1_f32__scalar,
                                      direct_chebyshev_f32__scalar, direct_powi_f32__scalar,
                                      finish_sq_f32__scalar, finish_cos_f32__scalar,
                                      scan_topk_f32__scalar, select_le_f32__scalar,
                                      exact_sq_f32__scalar, sqnorm_f32__scalar, 0, 0, NULL};
    *k64 = (fml_distance_kernels_f64){"scalar", 4, 4, direct_l1_f64__scalar,
                                      direct_chebyshev_f64__scalar, direct_powi_f64__scalar,
                                      finish_sq_f64__scalar, finish_cos_f64__scalar,
                                      scan_topk_f64__scalar, select_le_f64__scalar,
                                      exact_sq_f64__scalar, sqnorm_f64__scalar, 0, 0, NULL};
}

/* ---- selection ----------------------------------------------------------- */

static fml_distance_kernels_f32 g_kernels_f32;
static fml_distance_kernels_f64 g_kernels_f64;
static int g_level = -1;
static int g_amx_probe = -1;     /* the CPU/OS run AMX tiles (probed once) */
static int g_amx_allowed = 1;    /* fml_distance_amx(0) turns the AMX path off */
static int g_i8_allowed = 1;     /* fml_distance_i8(0) turns the int8 path off */

int fml_distance_init(int level)
{
    level = fml_gemm_init(level);
#ifndef FML_NO_X86_SIMD
    if (level >= FML_SIMD_AVX512) fml_distance_kernels_avx512(&g_kernels_f32, &g_kernels_f64);
    else if (level >= FML_SIMD_AVX2) fml_distance_kernels_avx2(&g_kernels_f32, &g_kernels_f64);
    else
#endif
        fml_distance_kernels_scalar(&g_kernels_f32, &g_kernels_f64);
    if (level >= FML_SIMD_AVX512 && g_amx_probe < 0) g_amx_probe = fml_distance_amx_probe();
    return g_level = level;
}

/* The AMX knn path is used: the CPU has it, the avx512 level is selected, allowed. */
static int fml_distance_amx_active(void)
{
    return g_level >= FML_SIMD_AVX512 && g_amx_probe > 0 && g_amx_allowed;
}

int fml_distance_amx(int allow)
{
    if (allow >= 0) g_amx_allowed = allow != 0;
    if (g_level < 0) fml_distance_init(fml_cpu_select());
    return fml_distance_amx_active();
}

/* The int8 knn path is used: exactly the avx2 level is selected, allowed.  (At
 * the avx512 level the float32 GEMM runs at the int8 rate of 256-bit vectors.) */
static int fml_distance_i8_active(void)
{
#ifndef FML_NO_X86_SIMD
    return g_level == FML_SIMD_AVX2 && g_i8_allowed;
#else
    return 0;
#endif
}

int fml_distance_i8(int allow)
{
    if (allow >= 0) g_i8_allowed = allow != 0;
    if (g_level < 0) fml_distance_init(fml_cpu_select());
    return fml_distance_i8_active();
}

#ifdef FML_NO_X86_SIMD
void fml_distance_i8_task_avx2(const fml_i8_task *t) { (void)t; }   /* never called */
#endif

static void ensure_init(void)
{
    if (g_level < 0) fml_distance_init(fml_cpu_select());
}

static const fml_distance_kernels_f32 *kernels_f32(void) { ensure_init(); return &g_kernels_f32; }
static const fml_distance_kernels_f64 *kernels_f64(void) { ensure_init(); return &g_kernels_f64; }

/* ---- radius results -------------------------------------------------------- */

int64_t fml_radius_total(const fml_radius_result *res)
{
    int64_t t = 0;
    for (int64_t i = 0; i < res->m; i++) t += res->rows[i].len;
    return t;
}

void fml_radius_free(fml_radius_result *res)
{
    if (res == NULL) return;
    for (int64_t i = 0; i < res->m; i++) free(res->rows[i].data);
    free(res->rows);
    free(res);
}

/* ---- drivers, one instance per dtype ------------------------------------------ */

#define FT float
#define SFX f32
#define FML_EPS FLT_EPSILON
#define FML_FT_MAX FLT_MAX
#define FML_TRUE_MIN 0x1p-149
#define FML_NEXTUP(v) nextafterf(v, INFINITY)
#include "distance/distance_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS
#undef FML_FT_MAX
#undef FML_TRUE_MIN
#undef FML_NEXTUP

#define FT double
#define SFX f64
#define FML_EPS DBL_EPSILON
#define FML_FT_MAX DBL_MAX
#define FML_TRUE_MIN 0x1p-1074
#define FML_NEXTUP(v) nextafter(v, INFINITY)
#include "distance/distance_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS
#undef FML_FT_MAX
#undef FML_TRUE_MIN
#undef FML_NEXTUP
