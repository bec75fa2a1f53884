/* transformer_impl.h: dtype-generic drivers of transformer.h.  No include guard:
 * included once per dtype by transformer.c with FT and SFX set. */

#define KT FML_T(fml_attention_kernels)

int FML_T(fml_softmax)(int64_t rows, int64_t n, const FT *x, FT *y, int log_out, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    if (rows <= 0 || n <= 0) return FML_OK;
    const int nt = fml_threads_for(n_threads, rows, 8.0 * (double)rows * (double)n,
                                   FML_ROWS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < rows; i++) kt->row_softmax(x + i * n, y + i * n, n, log_out);
    return FML_OK;
}

int FML_T(fml_layer_norm)(int64_t rows, int64_t n, const FT *x, const FT *w, const FT *b,
                          double eps, FT *y, double *mean, double *rstd, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    if (rows <= 0 || n <= 0) return FML_OK;
    const int nt = fml_threads_for(n_threads, rows, 4.0 * (double)rows * (double)n,
                                   FML_ROWS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < rows; i++) {
        double mu, r;
        kt->row_moments(x + i * n, n, eps, &mu, &r);
        kt->row_normalize(x + i * n, y + i * n, n, mu, r, w, b);
        if (mean != NULL) mean[i] = mu;
        if (rstd != NULL) rstd[i] = r;
    }
    return FML_OK;
}

int FML_T(fml_layer_norm_backward)(int64_t rows, int64_t n, const FT *x, const FT *dy, const FT *w,
                                   double eps, FT *dx, double *dw, double *db, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    if (n <= 0) return FML_OK;
    if (dw != NULL) memset(dw, 0, (size_t)n * sizeof(double));
    if (db != NULL) memset(db, 0, (size_t)n * sizeof(double));
    if (rows <= 0) return FML_OK;
    /* fixed chunks of rows (never by thread count), partials merged in order */
    int64_t n_chunks = (rows + FML_LN_CHUNK_ROWS - 1) / FML_LN_CHUNK_ROWS;
    if (n_chunks > FML_LN_MAX_CHUNKS) n_chunks = FML_LN_MAX_CHUNKS;
    const int need = dw != NULL || db != NULL;
    double *part = NULL;
    if (need) {
        int ok = 1;
        const size_t bytes = fml_mul_size(fml_mul_size((size_t)n_chunks, 2 * (size_t)n, &ok),
                                          sizeof(double), &ok);
        part = ok ? (double *)fml_scratch_alloc(bytes) : NULL;
        if (part == NULL) return FML_ENOMEM;
        memset(part, 0, bytes);
    }
    const int nt = fml_threads_for(n_threads, n_chunks, 10.0 * (double)rows * (double)n,
                                   FML_ROWS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = fml_chunk_start(rows, n_chunks, c), r1 = fml_chunk_start(rows, n_chunks, c + 1);
        double *pw = need && dw != NULL ? part + c * 2 * n : NULL;
        double *pb = need && db != NULL ? part + c * 2 * n + n : NULL;
        for (int64_t i = r0; i < r1; i++) {
            double mu, r;
            kt->row_moments(x + i * n, n, eps, &mu, &r);
            kt->row_layer_norm_bwd(x + i * n, dy + i * n, w, n, mu, r, dx + i * n, pw, pb);
        }
    }
    if (need) {
        for (int64_t c = 0; c < n_chunks; c++) {
            if (dw != NULL)
                for (int64_t j = 0; j < n; j++) dw[j] += part[c * 2 * n + j];
            if (db != NULL)
                for (int64_t j = 0; j < n; j++) db[j] += part[c * 2 * n + n + j];
        }
        fml_scratch_free(part);
    }
    return FML_OK;
}

int FML_T(fml_gelu)(int64_t n, const FT *x, FT *y, int approximate, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    if (n <= 0) return FML_OK;
    const int64_t block = FML_DROPOUT_BLOCK, n_blocks = (n + block - 1) / block;
    const int nt = fml_threads_for(n_threads, n_blocks, (approximate ? 20.0 : 60.0) * (double)n,
                                   FML_ROWS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_blocks; c++) {
        const int64_t i0 = c * block, len = FML_MIN(block, n - i0);
        if (approximate)
            kt->row_gelu_tanh(x + i0, y + i0, len);
        else
            kt->row_gelu_erf(x + i0, y + i0, len);
    }
    return FML_OK;
}

int FML_T(fml_dropout)(int64_t n, const FT *x, FT *y, double p, uint64_t seed, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    if (n <= 0) return FML_OK;
    const int64_t block = FML_DROPOUT_BLOCK, n_blocks = (n + block - 1) / block;
    const uint32_t threshold = fml_rng_threshold(p);
    const FT scale = p < 1 ? (FT)(1.0 / (1.0 - p)) : (FT)0;
    const int nt = fml_threads_for(n_threads, n_blocks, 8.0 * (double)n, FML_ROWS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_blocks; c++) {
        const int64_t i0 = c * block, len = FML_MIN(block, n - i0);
        if (p >= 1) {
            for (int64_t i = i0; i < i0 + len; i++) y[i] = 0;
            continue;
        }
        kt->row_dropout(x + i0, y + i0, len, fml_rng_row_key(seed, (uint64_t)c), 0, threshold, scale);
    }
    return FML_OK;
}

/* ---- linear: the core GEMM's fused epilogue adds the bias and the activation */

typedef struct {
    const KT *kt;
    const FT *b;
    FT *y;
    int64_t n;
    int act;
} FML_T(linear_ctx);

static int FML_T(linear_epilogue)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb,
                                  FT *tile, int64_t ldt)
{
    const FML_T(linear_ctx) *cx = (const FML_T(linear_ctx) *)vctx;
    for (int64_t i = 0; i < mb; i++) {
        FT *restrict t = tile + i * ldt;
        FT *restrict yr = cx->y + (i0 + i) * cx->n + j0;
        if (cx->b != NULL)
            for (int64_t j = 0; j < nb; j++) t[j] += cx->b[j0 + j];
        switch (cx->act) {
        case FML_ACT_RELU:
            /* NaN stays NaN (x > 0 is false for NaN, so keep x unless x <= 0) */
            for (int64_t j = 0; j < nb; j++) yr[j] = t[j] <= 0 ? (FT)0 : t[j];
            break;
        case FML_ACT_GELU:
            cx->kt->row_gelu_erf(t, yr, nb);
            break;
        case FML_ACT_GELU_TANH:
            cx->kt->row_gelu_tanh(t, yr, nb);
            break;
        default:
            memcpy(yr, t, (size_t)nb * sizeof(FT));
        }
    }
    return FML_OK;
}

int FML_T(fml_linear)(int64_t m, int64_t k, int64_t n, const FT *x, int64_t ldx, const FT *w,
                      const FT *b, int activation, FT *y, int64_t n_threads)
{
    if (m <= 0 || n <= 0) return FML_OK;
    fml_gemm_packed_b pb;
    /* B = W^T: B[p, j] = W[j, p] */
    int err = FML_T(fml_gemm_pack_b)(k, n, w, 1, k, &pb, n_threads);
    if (err != FML_OK) return err;
    FML_T(linear_ctx) cx = {FML_T(fml_attention_kernels_get)(), b, y, n, activation};
    err = FML_T(fml_gemm_fused)(m, x, ldx, 1, &pb, FML_T(linear_epilogue), &cx, n_threads);
    fml_gemm_packed_b_free(&pb);
    return err;
}

#undef KT
