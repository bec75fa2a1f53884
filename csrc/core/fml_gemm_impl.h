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
static void FML_T(pack_a_block)(int64_t mb, int64_t kb, const FT *restrict a, int64_t rsa,
                                int64_t csa, int64_t mr, FT *restrict out)
{
    for (int64_t i0 = 0; i0 < mb; i0 += mr) {
        FT *restrict dst = out + (i0 / mr) * kb * mr;
        const int64_t mv = FML_MIN(mr, mb - i0);
        if (csa == 1) {                                   /* row-major A */
            for (int64_t i = 0; i < mv; i++) {
                const FT *restrict src = a + (i0 + i) * rsa;
                for (int64_t p = 0; p < kb; p++) dst[p * mr + i] = src[p];
            }
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

/* C[0:mb, 0:nb] (at c, ldc) = A[i0:i0+mb, :] B[:, j0:j0+nb] with B packed in
 * panels (j0 a multiple of nr); abuf holds mc x kc elements. */
static void FML_T(compute_block)(const KERNEL_T *kt, int64_t k, const FT *a, int64_t rsa,
                                 int64_t csa, int64_t i0, int64_t mb, const FT *bpack,
                                 int64_t j0, int64_t nb, FT *c, int64_t ldc, FT *abuf)
{
    const int64_t mr = kt->mr, nr = kt->nr;
    if (k == 0) {
        for (int64_t i = 0; i < mb; i++)
            for (int64_t j = 0; j < nb; j++) c[i * ldc + j] = 0;
        return;
    }
    for (int64_t p0 = 0; p0 < k; p0 += kt->kc) {
        const int64_t kb = FML_MIN(kt->kc, k - p0);
        FML_T(pack_a_block)(mb, kb, a + i0 * rsa + p0 * csa, rsa, csa, mr, abuf);
        for (int64_t jj = 0; jj < nb; jj += nr) {      /* B micro-panel stays in L1 */
            const FT *bp = bpack + ((j0 + jj) / nr) * k * nr + p0 * nr;
            const int64_t nv = FML_MIN(nr, nb - jj);
            for (int64_t ii = 0; ii < mb; ii += mr)    /* A micro-panels stream from L2 */
                kt->ukr(kb, abuf + (ii / mr) * kb * mr, bp, c + ii * ldc + jj, ldc,
                        FML_MIN(mr, mb - ii), nv, p0 > 0);
        }
    }
}

int FML_T(fml_gemm_batch)(int64_t batch, int64_t m, int64_t n, int64_t k, const FT *a,
                          const int64_t *a_off, int64_t rsa, int64_t csa, const FT *b,
                          const int64_t *b_off, int64_t rsb, int64_t csb, FT *c,
                          const int64_t *c_off, int64_t ldc, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    if (batch <= 0 || m <= 0 || n <= 0) return FML_OK;
    if (k <= 0) {
        for (int64_t t = 0; t < batch; t++)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) c[c_off[t] + i * ldc + j] = 0;
        return FML_OK;
    }
    int shared_b = 1;
    for (int64_t t = 1; t < batch && shared_b; t++) shared_b = b_off[t] == b_off[0];
    const int64_t nr = kt->nr, mr = kt->mr, mc = kt->mc, nc = kt->nc, kc = kt->kc;
    const int64_t n_panels = (n + nr - 1) / nr, n_bpacks = shared_b ? 1 : batch;
    int ok = 1;
    const size_t per_b = fml_mul_size(fml_mul_size((size_t)n_panels, (size_t)nr, &ok), (size_t)k, &ok);
    const size_t b_bytes = fml_mul_size(fml_mul_size(per_b, (size_t)n_bpacks, &ok), sizeof(FT), &ok);

    const int64_t mblocks = (m + mc - 1) / mc, nblocks = (n + nc - 1) / nc;
    const int64_t n_tasks = batch * mblocks * nblocks;
    const double flops = 2.0 * (double)batch * (double)m * (double)n * (double)k;
    const int nt = fml_threads_for(n_threads, n_tasks, flops, FML_GEMM_MIN_FLOPS_PER_THREAD);
    const size_t a_elems = (size_t)mc * (size_t)kc;
    if (!ok) return FML_ENOMEM;
    FT *bpack = (FT *)fml_scratch_alloc(b_bytes);
    FT *abufs = (FT *)fml_scratch_alloc(a_elems * sizeof(FT) * (size_t)nt);
    if (bpack == NULL || abufs == NULL) {
        fml_scratch_free(bpack);
        fml_scratch_free(abufs);
        return FML_ENOMEM;
    }
    (void)mr;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int64_t idx = 0; idx < n_bpacks * n_panels; idx++) {
            const int64_t t = idx / n_panels, jp = idx % n_panels;
            FML_T(pack_b_panels)(k, n, b + b_off[t], rsb, csb, nr, bpack + (size_t)t * per_b, jp, jp + 1);
        }
        FT *abuf = abufs + a_elems * (size_t)fml_thread_id();
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            const int64_t t = task / (mblocks * nblocks), r = task % (mblocks * nblocks);
            const int64_t i0 = (r / nblocks) * mc, j0 = (r % nblocks) * nc;
            const FT *bp = bpack + (shared_b ? 0 : (size_t)t * per_b);
            FML_T(compute_block)(kt, k, a + a_off[t], rsa, csa, i0, FML_MIN(mc, m - i0), bp, j0,
                                 FML_MIN(nc, n - j0), c + c_off[t] + i0 * ldc + j0, ldc, abuf);
        }
    }
    fml_scratch_free(bpack);
    fml_scratch_free(abufs);
    return FML_OK;
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
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t jp = 0; jp < n_panels; jp++)
        FML_T(pack_b_panels)(k, n, b, rsb, csb, nr, (FT *)out->data, jp, jp + 1);
    return FML_OK;
}

int64_t FML_T(fml_gemm_fused_mb)(void) { return FML_T(fml_gemm_kernel_get)()->mc; }

int FML_T(fml_gemm_fused)(int64_t m, const FT *a, int64_t rsa, int64_t csa,
                          const fml_gemm_packed_b *pb, FML_T(fml_gemm_epilogue) epilogue,
                          void *ctx, int64_t n_threads)
{
    const KERNEL_T *kt = FML_T(fml_gemm_kernel_get)();
    if (pb->nr != kt->nr) return FML_EINVAL;          /* packed for another kernel */
    if (m <= 0 || pb->n <= 0) return FML_OK;
    const int64_t mc = kt->mc, kc = kt->kc, nbk = FML_GEMM_FUSED_NB, k = pb->k, n = pb->n;
    const int64_t n_tasks = (m + mc - 1) / mc;
    const double flops = 2.0 * (double)m * (double)n * (double)FML_MAX(k, 1);
    const int nt = fml_threads_for(n_threads, n_tasks, flops, FML_GEMM_MIN_FLOPS_PER_THREAD);
    const size_t per_thread = (size_t)mc * (size_t)kc + (size_t)mc * (size_t)nbk;
    FT *scratch = (FT *)fml_scratch_alloc(per_thread * sizeof(FT) * (size_t)nt);
    if (scratch == NULL) return FML_ENOMEM;
    int err = FML_OK;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *abuf = scratch + per_thread * (size_t)fml_thread_id();
        FT *tile = abuf + (size_t)mc * (size_t)kc;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err != FML_OK) continue;               /* this thread already failed */
            const int64_t i0 = task * mc, mb = FML_MIN(mc, m - i0);
            for (int64_t j0 = 0; j0 < n; j0 += nbk) {
                const int64_t nb = FML_MIN(nbk, n - j0);
                FML_T(compute_block)(kt, k, a, rsa, csa, i0, mb, (const FT *)pb->data, j0, nb,
                                     tile, nbk, abuf);
                err |= epilogue(ctx, i0, j0, mb, nb, tile, nbk);
                if (err != FML_OK) break;
            }
        }
    }
    fml_scratch_free(scratch);
    return err;
}

#undef KERNEL_T
