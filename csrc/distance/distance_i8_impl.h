/* distance_i8_impl.h: knn through the int8 candidate search (distance_i8.h),
 * dtype-generic.  No include guard: included by distance_impl.h once per dtype,
 * after the AMX driver (it shares cand_finish). */

/* knn of c (a GEMM metric other than kl, FML_I8_MIN_D <= d <= FML_I8_MAX_D, no
 * column split) with int8 products for the candidates.  Sets *ran = 0 (and
 * returns FML_OK) when the data do not suit it, before anything is written. */
static int FML_T(knn_i8)(CTX *c, FT *dist, int64_t *ind, int64_t n_threads, int *ran)
{
    const int64_t m = c->m, n = c->n, d = c->d, k = c->k;
    const int64_t kp = (d + 7) / 8 * 8, mp = (m + 3) / 4 * 4, np = (n + 15) / 16 * 16;
    const int64_t cap = FML_I8_CAP(k);
    *ran = 0;
    const FT *bsrc = NULL;
    int sq, fits;
    int st = FML_T(cand_prepare)(c, &bsrc, &sq, &fits, n_threads);
    if (st != FML_OK || !fits) return st;
    const double scale = sq ? -2.0 : -1.0;
    int ok = 1;
    uint8_t *apack = (uint8_t *)FML_T(alloc)(mp * kp, 1, &ok);
    int8_t *bpack = (int8_t *)FML_T(alloc)(np * kp, 1, &ok);
    int32_t *csum = (int32_t *)FML_T(alloc)(np, sizeof(int32_t), &ok);
    float *colf = (float *)FML_T(alloc)(5 * np, sizeof(float), &ok);
    float *rowf = (float *)FML_T(alloc)(4 * mp, sizeof(float), &ok);
    fml_cand_rows cand = {0};
    if (!FML_T(cand_alloc)(&cand, m, k, cap)) ok = 0;
    if (!ok) {
        st = FML_ENOMEM;
        goto done;
    }
    const fml_i8_cols cols = {bpack, csum, colf, colf + np, colf + 2 * np, colf + 3 * np,
                              colf + 4 * np};
    float *sig = rowf, *alpha = rowf + mp, *eps = rowf + 2 * mp, *emax = rowf + 3 * mp;
    const int ntp = FML_T(prep_threads)(n_threads, FML_MAX(m, n), (double)(m + n) * (double)d);
    (void)ntp;
#pragma omp parallel num_threads(ntp)
    {
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < mp; i++)
            FML_T(fml_i8_pack_row)(i < m ? c->a + i * d : NULL, d, kp, scale, apack + i * kp,
                                   sig + i, alpha + i, eps + i);
#pragma omp for schedule(static) nowait
        for (int64_t jp = 0; jp < np / 16; jp++)
            FML_T(fml_i8_pack_panel)(bsrc, n, d, kp, jp, sq ? c->ny : NULL, &cols);
    }
    fml_i8_emax(&cols, n, alpha, eps, m, emax);
    fml_i8_task base = {apack, bpack, kp, m, 0, 0, np, csum, cols.tq, cols.bias_lo, cols.bias_hi,
                        cols.rho, cols.bn, sig, alpha, eps, emax, cand};
    const int64_t n_tasks = (m + FML_AMX_TASK_ROWS - 1) / FML_AMX_TASK_ROWS;
    const int nt = fml_threads_for(n_threads, n_tasks, (double)m * (double)n * (double)d,
                                   FML_DISTANCE_MIN_WORK_PER_THREAD);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : st)
    for (int64_t task = 0; task < n_tasks; task++) {
        if (st == FML_OK && fml_interrupted(intr)) st |= FML_EINTR;
        if (st != FML_OK) continue;
        fml_i8_task t = base;
        t.i0 = task * FML_AMX_TASK_ROWS;
        t.mb = FML_MIN(FML_AMX_TASK_ROWS, m - t.i0);
        fml_distance_i8_task_avx2(&t);
    }
    if (st != FML_OK) goto done;
    *ran = 1;
    st = FML_T(cand_finish)(c, &base.cand, dist, ind, n_threads);
done:
    fml_scratch_free(apack);
    fml_scratch_free(bpack);
    fml_scratch_free(csum);
    fml_scratch_free(colf);
    fml_scratch_free(rowf);
    FML_T(cand_free)(&cand);
    return st;
}
