/* fml_gemm_ukr_scalar.c: portable GEMM micro-kernels (any C11 compiler, any CPU).
 * A 4 x 8 tile of plain scalars; the compiler may vectorise it for the baseline. */
#include "core/fml_dtype.h"
#include "core/fml_gemm.h"

#define ISA scalar

static inline float f32_fma(float a, float b, float c) { return a * b + c; }
static inline double f64_fma(double a, double b, double c) { return a * b + c; }

#define FT float
#define SFX f32
#define VT float
#define VL 1
#define NV 8
#define MR 4
#define VZERO() 0.0f
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) f32_fma(a, b, c)
#define VADD(a, b) ((a) + (b))
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define VT double
#define VL 1
#define NV 8
#define MR 4
#define VZERO() 0.0
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) f64_fma(a, b, c)
#define VADD(a, b) ((a) + (b))
#include "core/fml_gemm_ukr_impl.h"
#include "core/fml_gemm_ukr_vec_undef.h"
#include "core/fml_dtype_end.h"

void fml_gemm_kernels_scalar(fml_gemm_kernel_f32 *k32, fml_gemm_kernel_f64 *k64)
{
    *k32 = (fml_gemm_kernel_f32){"ukr_4x8_f32__scalar", 4, 8, 256, 64, 256,
                                 ukr_f32__scalar, pack_a_panel_f32__scalar, fma_loop_f32__scalar, 12 * 2};
    *k64 = (fml_gemm_kernel_f64){"ukr_4x8_f64__scalar", 4, 8, 256, 64, 256,
                                 ukr_f64__scalar, pack_a_panel_f64__scalar, fma_loop_f64__scalar, 12 * 2};
}
