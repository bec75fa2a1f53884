/* transformer.c: softmax, layer norm, GELU, dropout and the fused linear layer
 * for float and double (bodies in transformer_impl.h; per-ISA row kernels from
 * the attention table, attention_kernels.h). */
#include "attention/transformer.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention/attention_kernels.h"
#include "attention/attention_rng.h"
#include "core/fml_dtype.h"
#include "core/fml_gemm.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"

/* Work (elements x a rough cost) per thread below which a call stays serial. */
#define FML_ROWS_MIN_WORK_PER_THREAD 65536.0
/* Rows per chunk of the layer-norm backward's dw/db partial sums, and at most
 * this many chunks (partials are FML_LN_MAX_CHUNKS x n doubles x 2). */
#define FML_LN_CHUNK_ROWS 256
#define FML_LN_MAX_CHUNKS 64
/* Elements per dropout stream (the hash's "row"). */
#define FML_DROPOUT_BLOCK 4096

#define FT float
#define SFX f32
#include "attention/transformer_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "attention/transformer_impl.h"
#include "core/fml_dtype_end.h"
