/* fml_gemm_impl.h: dtype-generic GEMM driver (packing, blocking, threads).
 * No include guard: included once per dtype by fml_gemm.c with FT and SFX set.
 * See fml_gemm.h for the structure and the contracts. */

#define KERNEL_T FML_T(fml_gemm_kernel)

/* Panels [jp0, jp1) of B (k x n) into out: panel jp holds B[:, jp*nr : jp*nr+nr]
 * as k rows of nr, zero-padded past column n. */
static void FML_T(pack_b_panels)(int64_t k, int64_t n, const FT *restrict b, int64_t rsb,
                                 int64_t csb, int64_t nr, FT *restrict out, int64_t jp0,
                                 int64_t jp1)
{
    for (int64_t jp = jp0; jp < jp1; jp++) {
        FT *restrict dst = out + jp * k * nr;
        const int64_t j0 = jp * nr, nv = FML_MIN(nr, n - j0);
        if (csb == 1) {                                   /* row-major B: copy rows */
            for (int64_t p = 0; p < k; p++) {
                const FT *restrict src = b + p * rsb + j0;
                for (int64_t j = 0; j < nv; j++) dst[p * nr + j] = src[j];
                for (int64_t j = nv; j < nr; j++) dst[p * nr + j] = 0;
            }
        } else {                                          /* column-major or strided */
            for (int64_t j = 0; j < nv; j++) {
                const FT *restrict src = b + (j0 + j) * csb;
                for (int64_t p = 0; p < k; p++) dst[p * nr + j] = src[p * rsb];
            }
            for (int64_t p = 0; p < k; p++)
                for (int64_t j = nv; j < nr; j++) dst[p * nr + j] = 0;
        }
    }
}

/* A block (mb x kb, element strides rsa/csa) into mr-high panels:
 * out[(i/mr)*kb*mr + p*mr + i%mr], rows past mb zero-padded. */
static void FML_T(pack_a_block)(const KERNEL_T *kt, int64_t mb, int64_t kb, const FT *restrict a,
                                int64_t rsa, int64_t csa, FT *restrict out)
{
    const int64_t mr = kt->mr;
    void (*pack_panel)(int64_t, const FT *, int64_t, int64_t, FT *) = kt->pack_a_panel;
    for (int64_t i0 = 0; i0 < mb; i0 += mr) {
        FT *restrict dst = out + (i0 / mr) * kb * mr;
        const int64_t mv = FML_MIN(mr, mb - i0);
        if (mv == mr) {
            pack_panel(kb, a + i0 * rsa, rsa, csa, dst);
        } else {
            for (int64_t p = 0; p < kb; p++) {
                const FT *restrict src = a + i0 * rsa + p * csa;
                for (int64_t i = 0; i < mv; i++) dst[p * mr + i] = src[i * rsa];
            }
        }
        if (mv < mr)
            for (int64_t p = 0; p < kb; p++)
                for (int64_t i = mv; i < mr; i++) dst[p * mr + i] = 0;
    }
}

/* C[0:mb, 0:nb] (+)= packed A (mb x kb, mr-high panels `astride` elements
 * apart) x packed B (kb x nb, nr-wide panels `bstride` elements apart). */
static void FML_T(macro_kernel)(const KERNEL_T *kt, int64_t mb, int64_t nb, int64_t kb,
                                const FT *apack, int64_t astride, const FT *bpack,
                                int64_t bstride, FT *c, int64_t ldc, int accumulate,
                                fml_prefetch_stream *pf)
{
    const int64_t mr = kt->mr, nr = kt->nr;
    for (int64_t jj = 0; jj < nb; jj += nr) {          /* B micro-panel stays in L1 */
        const FT *bp = bpack + (jj / nr) * bstride;
        const int64_t nv = FML_MIN(nr, nb - jj);
        for (int64_t ii = 0; ii < mb; ii += mr) {      /* A micro-panels stream from L2 */
            fml_prefetch_step(pf);
            kt->ukr(kb, apack + (ii / mr) * astride, bp, c + ii * ldc + jj, ldc,
                    FML_MIN(mr, mb - ii), nv, accumulate);
        }
    }
}

static void FML_T(zero_matrix)(int64_t m, int64_t n, FT *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = 0;
}

/* Fused path: C[0:mb, 0:nb] = A[i0:i0+mb, :] B[:, j0:j0+nb], B pre-packed whole
 * (panels of k x nr, j0 a multiple of nr).  A is read through (a, rsa, csa) and
 * packed into abuf (mc x kc elements), or, when apre is not NULL, taken from
 * whole-k panels packed once by fml_gemm_pack_a (i0 a multiple of mr). */
static void FML_T(compute_block)(const KERNEL_T *kt, int64_t k, const FT *a, int64_t rsa,
                                 int64_t csa, const FT *apre, int64_t i0, int64_t mb,
                                 const FT *bpack, int64_t j0, int64_t nb, FT *c, int64_t ldc,
                                 FT *abuf, fml_prefetch_stream *pf)
{
    const int64_t mr = kt->mr, nr = kt->nr;
    if (k == 0) {
        FML_T(zero_matrix)(mb, nb, c, ldc);
        return;
    }
    for (int64_t p0 = 0; p0 < k; p0 += kt->kc) {
        const int64_t kb = FML_MIN(kt->kc, k - p0);
        const FT *ap = abuf;
        int64_t astride = kb * mr;
        if (apre != NULL) {
            ap = apre + (i0 / mr) * k * mr + p0 * mr;
            astride = k * mr;
        } else {
            FML_T(pack_a_block)(kt, mb, kb, a + i0 * rsa + p0 * csa, rsa, csa, abuf);
        }
        FML_T(macro_kernel)(kt, mb, nb, kb, ap, astride, bpack + (j0 / nr) * k * nr + p0 * nr,
                            k * nr, c, ldc, p0 > 0, pf);
    }
}

/* One whole GEMM on the calling thread (BLIS order jc -> pc -> ic). */
static void FML_T(gemm_serial)(const KERNEL_T *kt, int64_t m, int64_t n, int64_t k,
                               const FT *a, int64_t rsa, int64_t csa, const FT *b,
                               int64_t rsb, int64_t csb, FT *c, int64_t ldc, FT *abuf,
                               FT *bbuf)
{
    const int64_t nr = kt->nr;
    for (int64_t jc = 0; jc < n; jc += kt->nc) {
        const int64_t nb = FML_MIN(kt->nc, n - jc);
        for (int64_t pc = 0; pc < k; pc += kt->kc) {
            const int64_t kb = FML_MIN(kt->kc, k - pc);
            FML_T(pack_b_panels)(kb, nb, b + pc * rsb + jc * csb, rsb, csb, nr, bbuf, 0,
                                 (nb + nr - 1) / nr);
            for (int64_t ic = 0; ic < m; ic += kt->mc) {
                const int64_t mb = FML_MIN(kt->mc, m - ic);
                FML_T(pack_a_block)(kt, mb, kb, a + ic * rsa + pc * csa, rsa, csa, abuf);
                FML_T(macro_kernel)(kt, mb, nb, kb, abuf, kb * kt->mr, bbuf, kb * nr,
                                    c + ic * ldc + jc, ldc, pc > 0, NULL);
            }
        }
    }
}

/* Scratch sizes (elements) for one thread: A block mc x kc, B block kc x nc. */
static size_t FML_T(abuf_elems)(const KERNEL_T *kt, int64_t m, int64_t k)
{
    const int64_t rows = FML_MIN(kt->mc, (m + kt->mr - 1) / kt->mr * kt->mr);
    return (size_t)rows * (size_t)FML_MIN(kt->kc, k);
}

static size_t FML_T(bbuf_elems)(const KERNEL_T *kt, int64_t n, int64_t k)
{
    const int64_t cols = FML_MIN(kt->nc, (n + kt->nr - 1) / kt->nr * kt->nr);
    return (size_t)cols * (size_t)FML_MIN(kt->kc, k);
}

/* Batched GEMM.  Two ways to use the team, chosen by size, same bits either way
 * (each C element is always the same micro-kernel sums in the same pc order):
 *  - small matrices, several of them: one matrix per thread at a time;
 *  - otherwise, matrix by matrix, for each (jc, pc) block the team packs B
 *    together, then shares out (row block, column slice) tasks. */
int FML_T(fml_gemm_batch)(int64_t batch, int64_t m, int64_t n, int64_t k, const FT *a,
                          const int64_t *a_off, int64_t rsa, int64_t csa, const FT *b,
                          const int64_t *b_off, int64_t rsb, int64_t csb, FT *c,
                          const int64_t *c_off, int64_t ldc, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    if (batch <= 0 || m <= 0 || n <= 0) return FML_OK;
    if (k <= 0) {
        for (int64_t t = 0; t < batch; t++) FML_T(zero_matrix)(m, n, c + c_off[t], ldc);
        return FML_OK;
    }
    const double flops_one = 2.0 * (double)m * (double)n * (double)k;
    const size_t a_el = FML_T(abuf_elems)(kt, m, k), b_el = FML_T(bbuf_elems)(kt, n, k);
    const int64_t nr = kt->nr, mc = kt->mc, nc = kt->nc, kc = kt->kc;
    const int64_t mblocks = (m + mc - 1) / mc;
    const int per_matrix = batch == 1 || flops_one >= FML_GEMM_BLOCK_PARALLEL_FLOPS;
    const double work = flops_one * (double)batch * (double)(sizeof(FT) / sizeof(float));
    const int nt = fml_threads_for(n_threads, per_matrix ? 64 : batch, work,
                                   FML_GEMM_MIN_FLOPS_PER_THREAD);
    FT *bshared = NULL;
    if (nt > 1 && per_matrix) {
        bshared = (FT *)fml_scratch_alloc(b_el * sizeof(FT));
        if (bshared == NULL) return FML_ENOMEM;
    }
    if (nt == 1) {                                    /* no team for small work */
        FT *abuf = (FT *)fml_scratch_thread(0, a_el * sizeof(FT));
        FT *bbuf = (FT *)fml_scratch_thread(1, b_el * sizeof(FT));
        if (abuf == NULL || bbuf == NULL) return FML_ENOMEM;
        for (int64_t t = 0; t < batch; t++)
            FML_T(gemm_serial)(kt, m, n, k, a + a_off[t], rsa, csa, b + b_off[t], rsb, csb,
                               c + c_off[t], ldc, abuf, bbuf);
        return FML_OK;
    }
    int failed = 0, stopped = 0;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt)
    {
        FT *abuf = (FT *)fml_scratch_thread(0, a_el * sizeof(FT));
        FT *bbuf = per_matrix ? bshared : (FT *)fml_scratch_thread(1, b_el * sizeof(FT));
        if (abuf == NULL || bbuf == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        int stop;
#pragma omp atomic read
        stop = failed;
        const int go = !stop;
        if (go && !per_matrix) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < batch; t++) {
                if (fml_interrupted(intr)) {
#pragma omp atomic write
                    stopped = 1;
                    continue;
                }
                FML_T(gemm_serial)(kt, m, n, k, a + a_off[t], rsa, csa, b + b_off[t], rsb, csb,
                                   c + c_off[t], ldc, abuf, bbuf);
            }
        } else if (go) {
            for (int64_t t = 0; t < batch; t++)
                for (int64_t jc = 0; jc < n; jc += nc) {
                    const int64_t nb = FML_MIN(nc, n - jc), n_panels = (nb + nr - 1) / nr;
                    /* enough tasks to balance the team: split columns when rows are few */
                    const int64_t splits = FML_MIN(n_panels, FML_MAX(1, (4 * nt + mblocks - 1) / mblocks));
                    for (int64_t pc = 0; pc < k; pc += kc) {
                        const int64_t kb = FML_MIN(kc, k - pc);
                        const FT *bt = b + b_off[t] + pc * rsb + jc * csb;
#pragma omp for schedule(static)
                        for (int64_t jp = 0; jp < n_panels; jp++)
                            FML_T(pack_b_panels)(kb, nb, bt, rsb, csb, nr, bshared, jp, jp + 1);
#pragma omp for schedule(dynamic, 1)
                        for (int64_t task = 0; task < mblocks * splits; task++) {
                            if (fml_interrupted(intr)) {      /* every later task skips too */
#pragma omp atomic write
                                stopped = 1;
                                continue;
                            }
                            const int64_t ic = (task / splits) * mc, s = task % splits;
                            const int64_t mb = FML_MIN(mc, m - ic);
                            const int64_t p0 = fml_chunk_start(n_panels, splits, s);
                            const int64_t p1 = fml_chunk_start(n_panels, splits, s + 1);
                            FML_T(pack_a_block)(kt, mb, kb, a + a_off[t] + ic * rsa + pc * csa, rsa,
                                                csa, abuf);
                            FML_T(macro_kernel)(kt, mb, FML_MIN(nb, p1 * nr) - p0 * nr, kb, abuf,
                                                kb * kt->mr, bshared + p0 * kb * nr, kb * nr,
                                                c + c_off[t] + ic * ldc + jc + p0 * nr, ldc, pc > 0,
                                                NULL);
                        }
                    }
                }
        }
    }
    fml_scratch_free(bshared);
    return failed ? FML_ENOMEM : stopped ? FML_EINTR : FML_OK;
}

int FML_T(fml_gemm)(int64_t m, int64_t n, int64_t k, const FT *a, int64_t rsa, int64_t csa,
                    const FT *b, int64_t rsb, int64_t csb, FT *c, int64_t ldc, int64_t n_threads)
{
    const int64_t zero = 0;
    return FML_T(fml_gemm_batch)(1, m, n, k, a, &zero, rsa, csa, b, &zero, rsb, csb, c, &zero,
                                 ldc, n_threads);
}

int FML_T(fml_gemm_pack_b)(int64_t k, int64_t n, const FT *b, int64_t rsb, int64_t csb,
                           fml_gemm_packed_b *out, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    const int64_t nr = kt->nr, n_panels = (n + nr - 1) / nr;
    int ok = 1;
    const size_t bytes = fml_mul_size(
        fml_mul_size(fml_mul_size((size_t)n_panels, (size_t)nr, &ok), (size_t)k, &ok), sizeof(FT), &ok);
    out->k = k;
    out->n = n;
    out->nr = nr;
    out->data = ok ? fml_scratch_alloc(bytes) : NULL;
    if (out->data == NULL) return FML_ENOMEM;
    const int nt = fml_threads_for(n_threads, n_panels, (double)k * (double)n, FML_PACK_MIN_ELEMS_PER_THREAD);
    (void)nt;                                         /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t jp = 0; jp < n_panels; jp++)
        FML_T(pack_b_panels)(k, n, b, rsb, csb, nr, (FT *)out->data, jp, jp + 1);
    return FML_OK;
}

int64_t FML_T(fml_gemm_fused_mb)(void) { return FML_T(fml_gemm_kernel_get)()->mc; }

int64_t FML_T(fml_gemm_packed_a_len)(int64_t m, int64_t k)
{
    const int64_t mr = FML_T(fml_gemm_kernel_get)()->mr;
    return (m + mr - 1) / mr * mr * FML_MAX(k, 1);
}

int FML_T(fml_gemm_pack_a)(int64_t m, int64_t k, const FT *a, int64_t rsa, int64_t csa, FT *out,
                           int64_t *mr_out, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    const int64_t mr = kt->mr, n_panels = (m + mr - 1) / mr;
    *mr_out = mr;
    const int nt = fml_threads_for(n_threads, n_panels, (double)m * (double)k, FML_PACK_MIN_ELEMS_PER_THREAD);
    (void)nt;                                         /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t ip = 0; ip < n_panels; ip++)
        FML_T(pack_a_block)(kt, FML_MIN(mr, m - ip * mr), k, a + ip * mr * rsa, rsa, csa,
                            out + ip * mr * k);
    return FML_OK;
}

/* The fused driver; apre (whole-k panels) or (a, rsa, csa). */
static int FML_T(fused_run)(int64_t m, int64_t k, const FT *a, int64_t rsa, int64_t csa,
                            const FT *apre, const fml_gemm_packed_b *pb,
                            FML_T(fml_gemm_epilogue) epilogue, void *ctx, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    if (pb->nr != kt->nr || pb->k != k) return FML_EINVAL;   /* packed for another kernel */
    if (m <= 0 || pb->n <= 0) return FML_OK;
    const int64_t mc = kt->mc, kc = kt->kc, nbk = FML_GEMM_FUSED_NB, n = pb->n;
    const int64_t n_tasks = (m + mc - 1) / mc;
    const double work = 2.0 * (double)m * (double)n * (double)FML_MAX(k, 1) *
                        (double)(sizeof(FT) / sizeof(float));
    const int nt = fml_threads_for(n_threads, n_tasks, work, FML_GEMM_MIN_FLOPS_PER_THREAD);
    (void)nt;                                         /* unused without OpenMP */
    int err = FML_OK;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *abuf = (FT *)fml_scratch_thread(0, (size_t)mc * (size_t)kc * sizeof(FT));
        FT *tile = (FT *)fml_scratch_thread(2, (size_t)mc * (size_t)nbk * sizeof(FT));
        if (abuf == NULL || tile == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;               /* this thread already failed */
            const int64_t i0 = task * mc, mb = FML_MIN(mc, m - i0);
            /* pre-packed A: fetch the block this thread probably takes next
               (tasks go round the team) during this block's first column block */
            const int64_t inext = i0 + (int64_t)nt * mc;
            fml_prefetch_stream pf = fml_prefetch_begin(
                apre != NULL && inext < m ? apre + (inext / kt->mr) * k * kt->mr : NULL,
                FML_MIN(mc, m - inext) * k * (int64_t)sizeof(FT),
                ((FML_MIN(nbk, n) + kt->nr - 1) / kt->nr) * ((mb + kt->mr - 1) / kt->mr));
            for (int64_t j0 = 0; j0 < n; j0 += nbk) {
                const int64_t nb = FML_MIN(nbk, n - j0);
                FML_T(compute_block)(kt, k, a, rsa, csa, apre, i0, mb, (const FT *)pb->data, j0,
                                     nb, tile, nbk, abuf, &pf);
                err |= epilogue(ctx, i0, j0, mb, nb, tile, nbk);
                if (err != FML_OK) break;
            }
        }
    }
    return err;
}

int FML_T(fml_gemm_fused)(int64_t m, const FT *a, int64_t rsa, int64_t csa,
                          const fml_gemm_packed_b *pb, FML_T(fml_gemm_epilogue) epilogue,
                          void *ctx, int64_t n_threads)
{
    return FML_T(fused_run)(m, pb->k, a, rsa, csa, NULL, pb, epilogue, ctx, n_threads);
}

int FML_T(fml_gemm_fused_packed)(const FT *apack, int64_t mr, int64_t row0, int64_t m,
                                 const fml_gemm_packed_b *pb, FML_T(fml_gemm_epilogue) epilogue,
                                 void *ctx, int64_t n_threads)
{
    if (mr != FML_T(fml_gemm_kernel_get)()->mr || row0 % mr != 0) return FML_EINVAL;
    return FML_T(fused_run)(m, pb->k, NULL, 0, 0, apack + row0 * FML_MAX(pb->k, 1), pb, epilogue,
                            ctx, n_threads);
}

#undef KERNEL_T
