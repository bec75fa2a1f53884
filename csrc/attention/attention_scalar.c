/* attention_scalar.c: portable attention kernels (any CPU; also the reference
 * the SIMD levels are tested against).  One "lane" per vector: the same bodies
 * as the ISA files with VL = 1.  f32 and f64: 4 x 8 tiles, like the core GEMM.
 * Rounding to an integer uses the 1.5*2^(mantissa bits) trick (exact for
 * |x| < 2^22 resp. 2^51, which the clamps guarantee); 2^n is ldexp. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attention/attention_kernels.h"
#include "attention/attention_rng.h"
#include "core/fml_dtype.h"

#define ISA scalar

static inline float round_f32__scalar(float x) { return (x + 0x1.8p23f) - 0x1.8p23f; }
static inline double round_f64__scalar(double x) { return (x + 0x1.8p52) - 0x1.8p52; }
static inline float scalef_f32__scalar(float p, float n) { return n == n ? ldexpf(p, (int)n) : p + n; }
static inline double scalef_f64__scalar(double p, double n) { return n == n ? ldexp(p, (int)n) : p + n; }

#define VZERO() 0
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VSCALEF_Z(p, n, x, lo) ((x) < (lo) ? 0 : VSCALEF(p, n))
#define VHMAX(v) (v)
#define VHSUM(v) (v)
#define VLOAD_TAIL(p, n, fill) (*(p))
#define VSTORE_TAIL(p, v, n) (*(p) = (v))
#define VGATHER(p, stride) (*(p))

#define FT float
#define SFX f32
#define FML_ATTN_F64 0
#define VT float
#define VL 1
#define NV 8
#define MR 4
#define VROUND(x) round_f32__scalar(x)
#define VSCALEF(p, n) scalef_f32__scalar(p, n)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f32__scalar(fml_attention_kernels_f32 *t)
{
    t->name = "attn_4x8_f32__scalar";
#include "attention/attention_fill_table.h"
}
#undef FML_ATTN_F64
#undef VT
#undef VL
#undef NV
#undef MR
#undef VROUND
#undef VSCALEF
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define FML_ATTN_F64 1
#define VABS(v) fabs(v)
#define VBLEND_NEG(x, a, b) ((x) < 0 ? (a) : (b))
#define VLOAD_F32(p) ((double)*(p))
#define VSTORE_F32(p, v) (*(p) = (float)(v))
#define VT double
#define VL 1
#define NV 8
#define MR 4
#define VROUND(x) round_f64__scalar(x)
#define VSCALEF(p, n) scalef_f64__scalar(p, n)
#include "attention/attention_ukr_impl.h"
#include "attention/attention_rows_impl.h"
static void fill_f64__scalar(fml_attention_kernels_f64 *t)
{
    t->name = "attn_4x8_f64__scalar";
#include "attention/attention_fill_table.h"
}
#include "attention/attention_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_attention_kernels_scalar(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64)
{
    fill_f32__scalar(k32);
    fill_f64__scalar(k64);
    k32->row_gelu_erf = row_gelu_erf_f32_scalar;    /* float32 rows in float64 lanes */
}
