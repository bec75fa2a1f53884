/* attention_impl.h: dtype-generic attention drivers (packing, blocking, online
 * softmax, threads).  No include guard: included once per dtype by attention.c
 * with FT and SFX set.  The structure and contracts are in attention.h; the
 * per-ISA micro-kernels and row kernels come from the table (attention_kernels.h).
 *
 * Index picture of one forward task (MR-row query panels, NR-wide key panels):
 *
 *            key block k0 .. k0+kb  (kb <= FML_ATTN_KB, a multiple of NR)
 *           +------+------+------+--
 *  panel 0  | ukr  | ukr  | ukr  |     tile rows: S, then P in place
 *  panel 1  | ukr  | ukr  | ukr  |     (leading dim FML_ATTN_TILE_LD)
 *  ...      +------+------+------+--
 *
 *  S = Q K^T: A = the task's Q rows copied with scale*log2(e) folded in, read
 *  in place by ukr_rowa (packed MR-row panels and ukr when E > the tile's
 *  leading dim), B = K^T packed per head in NR-key panels.  Then acc (rows x
 *  Evp) += P (rows x kb) V_blk: A = the P tile read in place, B = V packed per
 *  head in NR-column panels (Evp = Ev rounded up to NR).
 */

#define KT FML_T(fml_attention_kernels)

/* Packed K^T of one head: ceil(S/nr) panels of E x nr (keys past S are zero). */
static int64_t FML_T(kpack_len)(const KT *kt, int64_t S, int64_t E)
{
    return (S + kt->nr - 1) / kt->nr * kt->nr * E;
}

/* Packed V of one head: ceil(Ev/nr) panels of S x nr (columns past Ev are zero). */
static int64_t FML_T(vpack_len)(const KT *kt, int64_t S, int64_t Ev)
{
    return (Ev + kt->nr - 1) / kt->nr * kt->nr * S;
}

/* Q rows [r0, r0 + rows) of one head into MR-row panels, times c; rows past
 * `rows` are zero: dst[ip*mr*E + p*mr + i] = c * Q[r0 + ip*mr + i, p]. */
static void FML_T(pack_q)(const KT *kt, int64_t rows, int64_t E, const FT *restrict q,
                          int64_t ldq, FT c, FT *restrict dst)
{
    const int64_t mr = kt->mr;
    for (int64_t i0 = 0; i0 < rows; i0 += mr) {
        FT *restrict panel = dst + (i0 / mr) * mr * E;
        const int64_t mv = FML_MIN(mr, rows - i0);
        for (int64_t i = 0; i < mv; i++) {
            const FT *restrict row = q + (i0 + i) * ldq;
            for (int64_t p = 0; p < E; p++) panel[p * mr + i] = c * row[p];
        }
        for (int64_t p = 0; p < E; p++)
            for (int64_t i = mv; i < mr; i++) panel[p * mr + i] = 0;
    }
}

/* Per-thread scratch of one forward task, in elements. */
typedef struct {
    int64_t qpack, tile, acc, m, l;
} FML_T(fwd_scratch);

static int64_t FML_T(fwd_scratch_layout)(const KT *kt, int64_t rows_max, int64_t E, int64_t Evp,
                                         FML_T(fwd_scratch) *lay)
{
    const int64_t rows = (rows_max + kt->mr - 1) / kt->mr * kt->mr;
    int64_t at = 0;
    /* each piece starts on a 64-byte line */
#define FML_ATTN_PLACE(field, len) lay->field = at; at += ((len) + 15) / 16 * 16
    FML_ATTN_PLACE(qpack, rows * FML_MAX(E, FML_ATTN_TILE_LD));
    FML_ATTN_PLACE(tile, rows * FML_ATTN_TILE_LD);
    FML_ATTN_PLACE(acc, rows * Evp);
    FML_ATTN_PLACE(m, rows);
    FML_ATTN_PLACE(l, rows);
#undef FML_ATTN_PLACE
    return at;
}

/* Q rows [r0, r0 + rows) times c into rows of FML_ATTN_TILE_LD (E <= that),
 * read in place by ukr_rowa; the rows up to a whole panel are zero. */
static void FML_T(copy_q)(const KT *kt, int64_t rows, int64_t E, const FT *restrict q, int64_t ldq,
                          FT c, FT *restrict dst)
{
    const int64_t padded = (rows + kt->mr - 1) / kt->mr * kt->mr;
    for (int64_t i = 0; i < rows; i++) kt->row_scale_copy(dst + i * FML_ATTN_TILE_LD, q + i * ldq, c, E);
    for (int64_t i = rows; i < padded; i++)
        for (int64_t p = 0; p < E; p++) dst[i * FML_ATTN_TILE_LD + p] = 0;
}

/* One forward task: problem t, query rows [r0, r1).  vb/ldv: V as the B operand
 * (packed NR-column panels S*NR elements apart with ldv = NR, or V itself). */
static void FML_T(forward_task)(const KT *kt, const fml_attention_args *ar, const FT *q,
                                const FT *mask, FT *out, FT *lse, const FT *kpack,
                                const FT *vb, int64_t ldv, int64_t vpanel, int64_t t, int64_t r0,
                                int64_t r1, FT *ws, const FML_T(fwd_scratch) *lay, int64_t kb_max)
{
    const int64_t mr = kt->mr, nr = kt->nr, LD = FML_ATTN_TILE_LD;
    const int64_t L = ar->L, S = ar->S, E = ar->E, Ev = ar->Ev;
    const int64_t Evp = (Ev + nr - 1) / nr * nr, rows = r1 - r0, np = (rows + mr - 1) / mr;
    const int causal = ar->causal;
    FT *restrict qp = ws + lay->qpack, *restrict tile = ws + lay->tile, *restrict acc = ws + lay->acc;
    FT *restrict mrun = ws + lay->m, *restrict lrun = ws + lay->l;
    const FT log2e = (FT)1.4426950408889634074;
    const int dropout = ar->dropout_p > 0;
    const uint32_t threshold = dropout ? fml_rng_threshold(ar->dropout_p) : 0;
    const FT inv_keep = dropout ? (FT)(1.0 / (1.0 - ar->dropout_p)) : (FT)1;
    /* Q rows read in place by ukr_rowa when they fit a tile row, else packed panels */
    const int q_rows = E <= LD;
    const FT qscale = (FT)(ar->scale * 1.4426950408889634074);

    if (q_rows)
        FML_T(copy_q)(kt, rows, E, q + ar->q_off[t] + r0 * ar->ldq, ar->ldq, qscale, qp);
    else
        FML_T(pack_q)(kt, rows, E, q + ar->q_off[t] + r0 * ar->ldq, ar->ldq, qscale, qp);
    for (int64_t i = 0; i < np * mr; i++) {
        mrun[i] = -(FT)INFINITY;
        lrun[i] = 0;
    }
    memset(acc, 0, (size_t)(np * mr * Evp) * sizeof(FT));

    const int64_t kend = causal ? FML_MIN(S, r1) : S;
    for (int64_t k0 = 0; k0 < kend; k0 += kb_max) {
        const int64_t kb = FML_MIN(kb_max, kend - k0);
        /* S tiles: B (a K^T panel, E x NR) stays in L1 across the query panels */
        for (int64_t j = 0; j < kb; j += nr) {
            const FT *bp = kpack + ((k0 + j) / nr) * E * nr;
            for (int64_t ip = 0; ip < np; ip++) {
                const int64_t last = FML_MIN(r0 + (ip + 1) * mr, r1) - 1;
                if (causal && k0 + j > last) continue;  /* panel entirely above the diagonal */
                if (q_rows)
                    kt->ukr_rowa(E, qp + ip * mr * LD, bp, nr, tile + ip * mr * LD + j, LD, mr, nr, 0);
                else
                    kt->ukr(E, qp + ip * mr * E, mr, bp, nr, tile + ip * mr * LD + j, LD, mr, nr, 0);
            }
        }
        /* online softmax, row by row */
        for (int64_t ip = 0; ip < np; ip++) {
            const int64_t mv = FML_MIN(mr, rows - ip * mr);
            const int64_t klim = causal ? FML_MIN(kb, r0 + ip * mr + mv - k0) : kb;
            if (mask == NULL && !dropout && (!causal || r0 + ip * mr + 1 - k0 >= kb)) {
                /* every row sees all kb keys: the whole panel in one kernel call */
                kt->online_rows(tile + ip * mr * LD, LD, mv, kb, mrun + ip * mr, lrun + ip * mr,
                                acc + ip * mr * Evp, Evp, Evp);
                continue;
            }
            for (int64_t i = ip * mr; i < ip * mr + mv && klim > 0; i++) {
                const int64_t r = r0 + i;
                FT *restrict x = tile + i * LD;
                const int64_t nvalid = causal ? FML_MIN(kb, r + 1 - k0) : kb;
                if (nvalid <= 0) {
                    for (int64_t j = 0; j < klim; j++) x[j] = 0;
                    continue;
                }
                FT mx;
                if (mask != NULL)
                    mx = kt->row_add_max(x, mask + ar->mask_off[t] + r * ar->mask_ld + k0, log2e,
                                         nvalid);
                else
                    mx = kt->row_max(x, nvalid);
                const FT mold = mrun[i], mnew = mx > mold ? mx : mold;
                if (mnew == -(FT)INFINITY) {            /* every key so far masked out */
                    for (int64_t j = 0; j < klim; j++) x[j] = 0;
                    continue;
                }
                const FT alpha = mold == mnew ? (FT)1
                                 : mold == -(FT)INFINITY ? (FT)0 : (FT)exp2((double)(mold - mnew));
                const FT s = kt->row_exp2_sum(x, mnew, nvalid);
                for (int64_t j = nvalid; j < klim; j++) x[j] = 0;
                lrun[i] = lrun[i] * alpha + s;
                mrun[i] = mnew;
                if (alpha != 1 && mold != -(FT)INFINITY) kt->row_scale(acc + i * Evp, alpha, Evp);
                if (dropout)
                    kt->row_dropout(x, x, nvalid, fml_rng_row_key(ar->seed, (uint64_t)(t * L + r)), k0,
                                    threshold, inv_keep);
            }
        }
        /* acc += P V_blk: B (a V panel, kb x NR) stays in L1 across the query panels */
        for (int64_t c0 = 0; c0 < Evp; c0 += nr) {
            const FT *bp = vb + (c0 / nr) * vpanel + k0 * ldv;
            for (int64_t ip = 0; ip < np; ip++) {
                const int64_t mv = FML_MIN(mr, rows - ip * mr);
                const int64_t klim = causal ? FML_MIN(kb, r0 + ip * mr + mv - k0) : kb;
                if (klim <= 0) continue;
                kt->ukr_rowa(klim, tile + ip * mr * LD, bp, ldv, acc + ip * mr * Evp + c0, Evp, mr,
                             nr, 1);
            }
        }
    }
    /* out = acc / l; lse = ln 2 * (m + log2 l) */
    for (int64_t i = 0; i < rows; i++) {
        const FT l = lrun[i];
        const FT inv = l > 0 ? (FT)1 / l : (FT)0;
        kt->row_scale_copy(out + (t * L + r0 + i) * Ev, acc + i * Evp, inv, Ev);
        if (lse != NULL)
            lse[t * L + r0 + i] = l > 0 ? (FT)(0.69314718055994530942 * ((double)mrun[i] + log2((double)l)))
                                        : -(FT)INFINITY;
    }
}

/* Rows of one forward task: a multiple of MR near FML_ATTN_QROWS, the query
 * rows shared out evenly (a fixed decomposition: depends on L and MR only). */
static int64_t FML_T(task_rows)(const KT *kt, int64_t L)
{
    const int64_t mr = kt->mr;
    const int64_t target = FML_MAX(mr, FML_ATTN_QROWS / mr * mr);
    const int64_t n_tasks = (L + target - 1) / target;
    const int64_t rows = (L + n_tasks - 1) / n_tasks;
    return (rows + mr - 1) / mr * mr;
}

/* Pack head t's K^T and V into dst (V at dst + klen).  V is packed in
 * NR-column panels although the micro-kernel could read its rows in place
 * (ldb = ldv): the contiguous panels measured 3-5% faster overall (the B
 * stream of P V prefetches better). */
static void FML_T(pack_head)(const KT *kt, const fml_attention_args *ar, const FT *k, const FT *v,
                             int64_t t, int64_t klen, FT *dst)
{
    kt->pack_kt(ar->S, ar->E, k + ar->k_off[t], ar->ldk, dst);
    kt->pack_v(ar->S, ar->Ev, v + ar->v_off[t], ar->ldv, dst + klen);
}

/* Query rows [r0, r1) of head t against its packed K^T and V. */
static void FML_T(run_task)(const KT *kt, const fml_attention_args *ar, const FT *q,
                            const FT *mask, FT *out, FT *lse, const FT *kp, int64_t klen, int64_t t,
                            int64_t r0, int64_t r1, FT *ws, const FML_T(fwd_scratch) *lay,
                            int64_t kb_max)
{
    FML_T(forward_task)(kt, ar, q, mask, out, lse, kp, kp + klen, kt->nr, ar->S * kt->nr, t, r0, r1,
                        ws, lay, kb_max);
}

int FML_T(fml_attention_forward)(const fml_attention_args *ar, const FT *q, const FT *k,
                                 const FT *v, const FT *mask, FT *out, FT *lse, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    const int64_t B = ar->batch, L = ar->L, S = ar->S, E = ar->E, Ev = ar->Ev, nr = kt->nr;
    if (B <= 0 || L <= 0 || Ev <= 0) return FML_OK;
    const int64_t Evp = (Ev + nr - 1) / nr * nr;
    const int64_t kb_max = FML_MIN(FML_ATTN_KB, FML_ATTN_TILE_LD - 16) / nr * nr;
    const int64_t rows_max = FML_T(task_rows)(kt, L), n_qt = (L + rows_max - 1) / rows_max;
    const int64_t klen = (FML_T(kpack_len)(kt, S, E) + 15) / 16 * 16;
    const int64_t vlen = (FML_T(vpack_len)(kt, S, Ev) + 15) / 16 * 16;
    const int64_t per_head = klen + vlen;
    FML_T(fwd_scratch) lay;
    const int64_t ws_len = FML_T(fwd_scratch_layout)(kt, rows_max, E, Evp, &lay);
    const double work = 2.0 * (double)B * (double)L * (double)S * (double)(E + Ev) *
                        attn_causal_fraction(ar->causal, L, S) * (double)(sizeof(FT) / sizeof(float));
    const int nt = fml_threads_for(n_threads, B * n_qt, work, FML_ATTN_MIN_FLOPS_PER_THREAD);
    (void)nt;
    int err = FML_OK;

    /* Enough heads to share out: one task per head, which packs its own K^T in
     * thread scratch: one parallel loop, no barrier (a barrier costs dearly when
     * the machine is oversubscribed).  Same arithmetic, same bits as below. */
    const int64_t intr = fml_interrupt_token();
    if (B >= FML_ATTN_HEADS_PER_THREAD * nt && per_head <= FML_ATTN_PACK_BUDGET / (int64_t)sizeof(FT)) {
#pragma omp parallel num_threads(nt) reduction(| : err)
        {
            FT *ws = (FT *)fml_scratch_thread(FML_ATTN_SCRATCH_SLOT,
                                              (size_t)(ws_len + per_head) * sizeof(FT));
            if (ws == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < B; t++) {
                if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
                if (ws == NULL || err != FML_OK) continue;
                FT *kp = ws + ws_len;
                FML_T(pack_head)(kt, ar, k, v, t, klen, kp);
                for (int64_t qi = n_qt - 1; qi >= 0; qi--)
                    FML_T(run_task)(kt, ar, q, mask, out, lse, kp, klen, t, qi * rows_max,
                                    FML_MIN(L, (qi + 1) * rows_max), ws, &lay, kb_max);
            }
        }
        return err;
    }

    /* Few heads: they are packed together (a wave, bounded memory), then their
     * query blocks are shared out. */
    const int64_t wave = FML_MAX(1, FML_MIN(B, FML_ATTN_PACK_BUDGET / (int64_t)sizeof(FT) /
                                                   FML_MAX(per_head, 1)));
    int ok = 1;
    const size_t pack_bytes = fml_mul_size(fml_mul_size((size_t)wave, (size_t)per_head, &ok), sizeof(FT), &ok);
    FT *packed = ok ? (FT *)fml_scratch_alloc(pack_bytes) : NULL;
    if (packed == NULL) return FML_ENOMEM;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *ws = (FT *)fml_scratch_thread(FML_ATTN_SCRATCH_SLOT, (size_t)ws_len * sizeof(FT));
        if (ws == NULL) err |= FML_ENOMEM;
        for (int64_t w0 = 0; w0 < B; w0 += wave) {
            const int64_t wn = FML_MIN(wave, B - w0);
#pragma omp for schedule(dynamic, 1)
            for (int64_t h = 0; h < wn; h++)
                FML_T(pack_head)(kt, ar, k, v, w0 + h, klen, packed + h * per_head);
            /* head by head (its packed K/V stays in L2), and within a head the
             * expensive (late, for causal) query blocks first: better balance */
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < wn * n_qt; task++) {
                if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
                if (ws == NULL || err != FML_OK) continue;
                const int64_t h = task / n_qt, qi = n_qt - 1 - task % n_qt;
                FML_T(run_task)(kt, ar, q, mask, out, lse, packed + h * per_head, klen,
                                w0 + h, qi * rows_max, FML_MIN(L, (qi + 1) * rows_max), ws, &lay,
                                kb_max);
            }
        }
    }
    fml_scratch_free(packed);
    return err;
}

/* ---- backward --------------------------------------------------------------
 *
 * One task per problem (its dK and dV accumulate over every query block, so a
 * task owns them: no atomics, a fixed order).  Per query block of rows (MR-row
 * panels) and key block:
 *
 *   S  = Q K^T                 ukr      A = Q panels (scale*log2e), B = K^T panels
 *   P  = exp2(S - lse*log2e)   rows (mask added first; causal and padding zeros)
 *   dP = dO V^T                ukr      A = dO panels, B = V^T panels
 *   dV += P^T dO               ukr      A = P^T read from the tile (acs = LD), B = dO rows
 *   dS = P * (dP - D)          rows     (dropout: P and dP through the keep mask)
 *   dK += dS^T Q               ukr      A = dS^T from the tile, B = Q rows
 *   dQ += dS K                 ukr_rowa A = dS rows in place, B = K rows
 *
 * dQ and dK are scaled by `scale` when written.
 */

/* Per-thread scratch of one backward task, in elements. */
typedef struct {
    int64_t kt_pack, vt_pack, k_rows, dk, dv, qa, qb, doa, dob, p, dp, pd, dq, d, lse2;
} FML_T(bwd_scratch);

static int64_t FML_T(bwd_scratch_layout)(const KT *kt, int64_t S, int64_t E, int64_t Ev,
                                         int64_t qrows, FML_T(bwd_scratch) *lay)
{
    const int64_t mr = kt->mr, nr = kt->nr;
    const int64_t Ep = (E + nr - 1) / nr * nr, Evp = (Ev + nr - 1) / nr * nr;
    const int64_t Sr = (S + mr - 1) / mr * mr, rows = (qrows + mr - 1) / mr * mr;
    int64_t at = 0;
#define FML_ATTN_PLACE(field, len) lay->field = at; at += ((len) + 15) / 16 * 16
    FML_ATTN_PLACE(kt_pack, FML_T(kpack_len)(kt, S, E));
    FML_ATTN_PLACE(vt_pack, FML_T(kpack_len)(kt, S, Ev));
    FML_ATTN_PLACE(k_rows, FML_T(vpack_len)(kt, S, E));
    FML_ATTN_PLACE(dk, Sr * Ep);
    FML_ATTN_PLACE(dv, Sr * Evp);
    FML_ATTN_PLACE(qa, rows * FML_MAX(E, 1));
    FML_ATTN_PLACE(qb, rows * Ep);
    FML_ATTN_PLACE(doa, rows * FML_MAX(Ev, 1));
    FML_ATTN_PLACE(dob, rows * Evp);
    FML_ATTN_PLACE(p, rows * FML_ATTN_TILE_LD);
    FML_ATTN_PLACE(dp, rows * FML_ATTN_TILE_LD);
    FML_ATTN_PLACE(pd, rows * FML_ATTN_TILE_LD);
    FML_ATTN_PLACE(dq, rows * Ep);
    FML_ATTN_PLACE(d, rows);
    FML_ATTN_PLACE(lse2, rows);
#undef FML_ATTN_PLACE
    return at;
}

/* x[0:n] *= keep(row_key, j0 + j) * inv_keep, and, if y is not NULL, y[0:n] =
 * the same for y's input p: y = p * keep * inv_keep (the dropped-out P). */
static void FML_T(row_dropout_pair)(FT *restrict x, const FT *restrict p, FT *restrict y, int64_t n,
                                    uint64_t row_key, int64_t j0, uint32_t threshold, FT inv_keep)
{
    for (int64_t j = 0; j < n; j++) {
        const FT keep = fml_rng_u32(row_key, (uint64_t)(j0 + j)) >= threshold ? inv_keep : (FT)0;
        x[j] *= keep;
        y[j] = p[j] * keep;
    }
}

/* Problem t, query rows [q_lo, q_hi): dq for those rows, and their share of
 * dK and dV (S x E and S x Ev, contiguous, at dk_out and dv_out). */
static void FML_T(backward_task)(const KT *kt, const fml_attention_args *ar, const FT *q,
                                 const FT *k, const FT *v, const FT *mask, const FT *out,
                                 const FT *lse, const FT *dout, FT *dq, FT *dk_out, FT *dv_out,
                                 int64_t t, int64_t q_lo, int64_t q_hi, FT *ws,
                                 const FML_T(bwd_scratch) *lay, int64_t qrows, int64_t kb_max)
{
    const int64_t mr = kt->mr, nr = kt->nr, LD = FML_ATTN_TILE_LD;
    const int64_t L = ar->L, S = ar->S, E = ar->E, Ev = ar->Ev;
    const int64_t Ep = (E + nr - 1) / nr * nr, Evp = (Ev + nr - 1) / nr * nr;
    const int64_t Sr = (S + mr - 1) / mr * mr;
    const int causal = ar->causal;
    const FT log2e = (FT)1.4426950408889634074;
    const int dropout = ar->dropout_p > 0;
    const uint32_t threshold = dropout ? fml_rng_threshold(ar->dropout_p) : 0;
    const FT inv_keep = dropout ? (FT)(1.0 / (1.0 - ar->dropout_p)) : (FT)1;
    const FT *qt = q + ar->q_off[t], *kt_ = k + ar->k_off[t], *vt = v + ar->v_off[t];
    FT *restrict ktp = ws + lay->kt_pack, *restrict vtp = ws + lay->vt_pack;
    FT *restrict krows = ws + lay->k_rows, *restrict dka = ws + lay->dk, *restrict dva = ws + lay->dv;
    FT *restrict qa = ws + lay->qa, *restrict qb = ws + lay->qb, *restrict doa = ws + lay->doa;
    FT *restrict dob = ws + lay->dob, *restrict pt = ws + lay->p, *restrict dpt = ws + lay->dp;
    FT *restrict pdt = ws + lay->pd, *restrict dqa = ws + lay->dq, *restrict dd = ws + lay->d;
    FT *restrict lse2 = ws + lay->lse2;
    /* the P that multiplies dO: dropped out into its own tile when dropout is on */
    const FT *pv_tile = dropout ? pdt : pt;

    kt->pack_kt(S, E, kt_, ar->ldk, ktp);
    kt->pack_kt(S, Ev, vt, ar->ldv, vtp);
    kt->pack_v(S, E, kt_, ar->ldk, krows);
    for (int64_t i = 0; i < Sr * Ep; i++) dka[i] = 0;
    for (int64_t i = 0; i < Sr * Evp; i++) dva[i] = 0;

    for (int64_t r0 = q_lo; r0 < q_hi; r0 += qrows) {
        const int64_t r1 = FML_MIN(q_hi, r0 + qrows), rows = r1 - r0, np = (rows + mr - 1) / mr;
        const FT *dot = dout + (t * L + r0) * Ev;
        FML_T(pack_q)(kt, rows, E, qt + r0 * ar->ldq, ar->ldq, (FT)(ar->scale * 1.4426950408889634074), qa);
        kt->pack_v(rows, E, qt + r0 * ar->ldq, ar->ldq, qb);
        FML_T(pack_q)(kt, rows, Ev, dot, Ev, 1, doa);
        kt->pack_v(rows, Ev, dot, Ev, dob);
        for (int64_t i = 0; i < rows; i++) {
            dd[i] = kt->row_dot(dot + i * Ev, out + (t * L + r0 + i) * Ev, Ev);
            const FT l = lse[t * L + r0 + i];
            lse2[i] = l == -(FT)INFINITY ? l : l * log2e;
        }
        for (int64_t i = 0; i < np * mr * Ep; i++) dqa[i] = 0;

        const int64_t kend = causal ? FML_MIN(S, r1) : S;
        for (int64_t k0 = 0; k0 < kend; k0 += kb_max) {
            const int64_t kb = FML_MIN(kb_max, kend - k0);
            /* S and dP tiles */
            for (int64_t j = 0; j < kb; j += nr) {
                const FT *bs = ktp + ((k0 + j) / nr) * E * nr, *bd = vtp + ((k0 + j) / nr) * Ev * nr;
                for (int64_t ip = 0; ip < np; ip++) {
                    const int64_t last = FML_MIN(r0 + (ip + 1) * mr, r1) - 1;
                    if (causal && k0 + j > last) continue;
                    kt->ukr(E, qa + ip * mr * E, mr, bs, nr, pt + ip * mr * LD + j, LD, mr, nr, 0);
                    kt->ukr(Ev, doa + ip * mr * Ev, mr, bd, nr, dpt + ip * mr * LD + j, LD, mr, nr, 0);
                }
            }
            /* P, dropout, dS, row by row */
            for (int64_t i = 0; i < rows; i++) {
                const int64_t r = r0 + i;
                FT *restrict x = pt + i * LD, *restrict dpx = dpt + i * LD;
                int64_t nvalid = causal ? FML_MAX(0, FML_MIN(kb, r + 1 - k0)) : kb;
                if (nvalid > 0 && lse2[i] != -(FT)INFINITY) {
                    if (mask != NULL)
                        (void)kt->row_add_max(x, mask + ar->mask_off[t] + r * ar->mask_ld + k0,
                                              log2e, nvalid);
                    kt->row_exp2(x, lse2[i], nvalid);
                    if (dropout)
                        FML_T(row_dropout_pair)(dpx, x, pdt + i * LD, nvalid,
                                                fml_rng_row_key(ar->seed, (uint64_t)(t * L + r)),
                                                k0, threshold, inv_keep);
                    kt->row_dsoftmax(dpx, x, dd[i], nvalid);
                } else {
                    nvalid = 0;
                }
                for (int64_t j = nvalid; j < kb; j++) {
                    x[j] = 0;
                    dpx[j] = 0;
                    if (dropout) pdt[i * LD + j] = 0;
                }
            }
            /* dV += P^T dO and dK += dS^T Q: MR keys x NR columns per tile, k = rows */
            for (int64_t i0 = 0; i0 < kb; i0 += mr) {
                const int64_t mv = FML_MIN(mr, kb - i0);
                for (int64_t c0 = 0; c0 < Evp; c0 += nr)
                    kt->ukr(rows, pv_tile + i0, LD, dob + c0 * rows, nr, dva + (k0 + i0) * Evp + c0,
                            Evp, mv, nr, 1);
                for (int64_t c0 = 0; c0 < Ep; c0 += nr)
                    kt->ukr(rows, dpt + i0, LD, qb + c0 * rows, nr, dka + (k0 + i0) * Ep + c0, Ep,
                            mv, nr, 1);
            }
            /* dQ += dS K */
            for (int64_t c0 = 0; c0 < Ep; c0 += nr)
                for (int64_t ip = 0; ip < np; ip++)
                    kt->ukr_rowa(kb, dpt + ip * mr * LD, krows + c0 * S + k0 * nr, nr,
                                 dqa + ip * mr * Ep + c0, Ep, mr, nr, 1);
        }
        const FT sc = (FT)ar->scale;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t e = 0; e < E; e++) dq[(t * L + r0 + i) * E + e] = sc * dqa[i * Ep + e];
    }
    const FT sc = (FT)ar->scale;
    for (int64_t j = 0; j < S; j++) {
        for (int64_t e = 0; e < E; e++) dk_out[j * E + e] = sc * dka[j * Ep + e];
        for (int64_t e = 0; e < Ev; e++) dv_out[j * Ev + e] = dva[j * Evp + e];
    }
}

/* Query chunks per problem of the backward: 1 with enough problems to share
 * out, else a few (each a multiple of qrows rows), whose dK/dV shares are summed
 * in chunk order.  Depends on the problem only (never on the thread count). */
static int64_t FML_T(bwd_chunks)(int64_t B, int64_t L, int64_t qrows)
{
    if (B >= FML_ATTN_BWD_SPLIT_BELOW) return 1;
    const int64_t by_len = L / FML_ATTN_BWD_CHUNK_MIN_ROWS, blocks = (L + qrows - 1) / qrows;
    return FML_MAX(1, FML_MIN(FML_MIN(by_len, blocks), FML_ATTN_BWD_MAX_CHUNKS));
}

int FML_T(fml_attention_backward)(const fml_attention_args *ar, const FT *q, const FT *k,
                                  const FT *v, const FT *mask, const FT *out, const FT *lse,
                                  const FT *dout, FT *dq, FT *dk, FT *dv, int64_t n_threads)
{
    const KT *kt = FML_T(fml_attention_kernels_get)();
    const int64_t B = ar->batch, L = ar->L, S = ar->S, E = ar->E, Ev = ar->Ev, nr = kt->nr;
    if (B <= 0 || L <= 0 || S <= 0) return FML_OK;
    const int64_t kb_max = FML_MIN(FML_ATTN_KB, FML_ATTN_TILE_LD - 16) / nr * nr;
    const int64_t qrows = FML_MAX(kt->mr, FML_ATTN_QROWS / kt->mr * kt->mr);
    const int64_t n_chunks = FML_T(bwd_chunks)(B, L, qrows);
    /* chunk c: query blocks [blocks*c/n, blocks*(c+1)/n) */
    const int64_t blocks = (L + qrows - 1) / qrows;
    FML_T(bwd_scratch) lay;
    const int64_t ws_len = FML_T(bwd_scratch_layout)(kt, S, E, Ev, qrows, &lay);
    const double work = 2.0 * (double)B * (double)L * (double)S * (double)(3 * E + 2 * Ev) *
                        attn_causal_fraction(ar->causal, L, S) * (double)(sizeof(FT) / sizeof(float));
    const int nt = fml_threads_for(n_threads, B * n_chunks, work, FML_ATTN_MIN_FLOPS_PER_THREAD);
    (void)nt;
    const int64_t share = S * (E + Ev);             /* one chunk's dK and dV */
    FT *part = NULL;
    if (n_chunks > 1) {
        int ok = 1;
        const size_t bytes = fml_mul_size(fml_mul_size((size_t)(B * n_chunks), (size_t)share, &ok),
                                          sizeof(FT), &ok);
        part = ok ? (FT *)fml_scratch_alloc(bytes) : NULL;
        if (part == NULL) return FML_ENOMEM;
    }
    int err = FML_OK;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *ws = (FT *)fml_scratch_thread(FML_ATTN_SCRATCH_SLOT, (size_t)ws_len * sizeof(FT));
        if (ws == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < B * n_chunks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (ws == NULL || err != FML_OK) continue;
            const int64_t t = task / n_chunks, c = task % n_chunks;
            const int64_t q_lo = FML_MIN(L, fml_chunk_start(blocks, n_chunks, c) * qrows);
            const int64_t q_hi = FML_MIN(L, fml_chunk_start(blocks, n_chunks, c + 1) * qrows);
            FT *dk_out = n_chunks > 1 ? part + task * share : dk + t * S * E;
            FT *dv_out = n_chunks > 1 ? part + task * share + S * E : dv + t * S * Ev;
            FML_T(backward_task)(kt, ar, q, k, v, mask, out, lse, dout, dq, dk_out, dv_out, t, q_lo,
                                 q_hi, ws, &lay, qrows, kb_max);
        }
        if (n_chunks > 1) {
            /* after the loop's barrier: sum the chunks' shares in chunk order */
#pragma omp for schedule(static)
            for (int64_t t = 0; t < B; t++) {
                const FT *p0 = part + t * n_chunks * share;
                for (int64_t i = 0; i < S * E; i++) {
                    FT acc = p0[i];
                    for (int64_t c = 1; c < n_chunks; c++) acc += p0[c * share + i];
                    dk[t * S * E + i] = acc;
                }
                for (int64_t i = 0; i < S * Ev; i++) {
                    FT acc = p0[S * E + i];
                    for (int64_t c = 1; c < n_chunks; c++) acc += p0[c * share + S * E + i];
                    dv[t * S * Ev + i] = acc;
                }
            }
        }
    }
    fml_scratch_free(part);
    return err;
}

#undef KT
