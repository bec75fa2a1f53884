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

/* At most this many chunks, so partial sums stay at most 64 x k x d doubles. */
#define FML_KMEANS_MAX_CHUNKS 64
/* Work (flops) per thread below which a step stays on one thread. */
#define FML_KMEANS_MIN_WORK_PER_THREAD 4.0e6

#define FT float
#define SFX f32
#define FML_EPS FLT_EPSILON
#include "kmeans/kmeans_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS

#define FT double
#define SFX f64
#define FML_EPS DBL_EPSILON
#include "kmeans/kmeans_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_EPS
