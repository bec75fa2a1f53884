/* trees_split_impl.h: split scans over one feature's histogram, compiled once
 * per SIMD level (no include guard; expects ISA, and SFX = f64 for naming).
 *
 * A candidate "after bin b" (b < nb - 1) sends bins 0..b left.  Each scan is
 *   1. prefix sums of the channels over the value bins (serial, 256 adds),
 *   2. a score per candidate with the constraints as a mask (branch-free: this
 *      loop vectorises at the ISA's width, two divisions per candidate),
 *   3. the maximum (omp simd reduction) and its first index.
 * With missing values in the node the same prefix sums are scored a second
 * time with the missing bin added to the left side, and "every value left,
 * missing right" is one more candidate.  Scores of empty bins equal the score
 * before them bit for bit, so the first maximum is the left-most threshold.
 *
 * Contraction is off (-std=c11 implies -ffp-contract=off in GCC), so every
 * level computes the same bits: models do not depend on the SIMD level. */

#define NEG_INF (-__builtin_inf())
#define PREFIX_BLOCK 16
#define SMALL_NODE_ROWS 128

/* The score loops are selects on doubles; GCC if-converts them into vector
 * blends only when it may assume comparisons and divisions do not trap.  Nothing
 * here reads the floating-point exception flags, so results are unchanged. */
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")

/* max of sc[0..n) and its first index (-1 if all are -inf). */
static int32_t FML_FN(first_argmax)(const double *restrict sc, int32_t n, double *best_out)
{
    double best = NEG_INF;
#pragma omp simd reduction(max : best)
    for (int32_t b = 0; b < n; b++) best = sc[b] > best ? sc[b] : best;
    *best_out = best;
    if (!(best > NEG_INF)) return -1;
    for (int32_t b = 0; b < n; b++)
        if (sc[b] == best) return b;
    return -1;
}

/* XGB: score = GL^2 / (HL + lambda) + GR^2 / (HR + lambda), as one fraction. */
static void FML_FN(xgb_scores)(const double *restrict cg, const double *restrict ch, int32_t n,
                               double add_g, double add_h, double h_values,
                               int left_has_missing, int right_has_missing,
                               const fml_scan_ctx *ctx, double *restrict sc)
{
    const double G = ctx->total[0], H = ctx->total[1], lam = ctx->lambda;
    const double mcw = ctx->min_child_weight, msl = ctx->min_samples_leaf;
    const double cph = ctx->hessian_is_count ? 1.0 : (H > 0 ? ctx->count / H : 0.0);
    /* "this side holds rows", decided on this histogram's own prefix sums of h
     * (h >= 0, so a prefix is > 0 exactly when one of its bins is occupied; the
     * sums of an empty side taken from the node total are rounding noise).  A
     * side that gets the missing bin holds rows anyway: threshold -1. */
    const double thr_l = left_has_missing ? -1.0 : 0.0, thr_r = right_has_missing ? -1.0 : 0.0;
    /* every test is a select on doubles, so the loop vectorises at any width */
    for (int32_t b = 0; b < n; b++) {
        const double gl = cg[b] + add_g, hl = ch[b] + add_h;
        const double gr = G - gl, hr = H - hl;
        const double dl = hl + lam, dr = hr + lam, den = dl * dr;
        /* one division, not two: division throughput bounds this loop */
        double s = (gl * gl * dr + gr * gr * dl) / (den > 0 ? den : 1.0);
        s = hl >= mcw ? s : NEG_INF;
        s = hr >= mcw ? s : NEG_INF;
        s = hl * cph >= msl ? s : NEG_INF;
        s = hr * cph >= msl ? s : NEG_INF;
        s = dl > 0 ? s : NEG_INF;
        s = dr > 0 ? s : NEG_INF;
        s = ch[b] > thr_l ? s : NEG_INF;
        s = h_values - ch[b] > thr_r ? s : NEG_INF;
        sc[b] = s;
    }
}

#pragma GCC pop_options

static void FML_FN(scan_xgb_dense)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                             fml_scan_result *res, double *left)
{
    double *restrict cg = ctx->scratch, *restrict ch = cg + 256, *restrict sc = ch + 256;
    const double gm = hf[2 * FML_TREE_MISSING_BIN], hm = hf[2 * FML_TREE_MISSING_BIN + 1];
    const int has_missing = hm > 0 || gm != 0;
    /* prefix sums in blocks of PREFIX_BLOCK bins: the block sums are independent
     * chains, then each block continues from the sum of the blocks before it, so
     * the latency is ~2 blocks instead of 256 dependent adds (same order on
     * every ISA: plain C, no reassociation) */
    const int32_t n_blk = (nb + PREFIX_BLOCK - 1) / PREFIX_BLOCK;
    double bg[256 / PREFIX_BLOCK], bh[256 / PREFIX_BLOCK];
    for (int32_t k = 0; k < n_blk; k++) {
        double s = 0, t = 0;
        const int32_t e = FML_MIN(nb, (k + 1) * PREFIX_BLOCK);
        for (int32_t b = k * PREFIX_BLOCK; b < e; b++) {
            s += hf[2 * b];
            t += hf[2 * b + 1];
        }
        bg[k] = s;
        bh[k] = t;
    }
    double og = 0, oh = 0;
    for (int32_t k = 0; k < n_blk; k++) {
        double s = og, t = oh;
        const int32_t e = FML_MIN(nb, (k + 1) * PREFIX_BLOCK);
        for (int32_t b = k * PREFIX_BLOCK; b < e; b++) {
            s += hf[2 * b];
            t += hf[2 * b + 1];
            cg[b] = s;
            ch[b] = t;
        }
        og += bg[k];
        oh += bh[k];
    }
    /* missing right: candidates 0..nb-2, plus nb-1 (values | missing) when missing */
    const int32_t n_right = has_missing ? nb : nb - 1;
    res->score = NEG_INF;
    res->bin = -1;
    res->missing_left = 0;
    res->has_missing = has_missing;
    double best;
    if (n_right > 0) {
        FML_FN(xgb_scores)(cg, ch, n_right, 0.0, 0.0, ch[nb - 1], 0, has_missing, ctx, sc);
        const int32_t b = FML_FN(first_argmax)(sc, n_right, &best);
        if (b >= 0) {
            res->score = best;
            res->bin = b;
            left[0] = cg[b];
            left[1] = ch[b];
        }
    }
    if (has_missing && nb > 1) {
        FML_FN(xgb_scores)(cg, ch, nb - 1, gm, hm, ch[nb - 1], 1, 0, ctx, sc);
        const int32_t b = FML_FN(first_argmax)(sc, nb - 1, &best);
        if (b >= 0 && best > res->score) {
            res->score = best;
            res->bin = b;
            res->missing_left = 1;
            left[0] = cg[b] + gm;
            left[1] = ch[b] + hm;
        }
    }
}

/* Class criteria.  Layout of hf: hf[b * C + k], C = n_classes (+ 1 count
 * channel when weighted).  Prefix sums go to cw[k * 256 + b] (k < C), their
 * class total to cwt[b]. */
static int FML_FN(class_prefix)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                                double *restrict cw, double *restrict cwt)
{
    const int32_t K = ctx->n_classes, C = K + (ctx->weighted ? 1 : 0);
    int has_missing = 0;
    const int32_t n_blk = (nb + PREFIX_BLOCK - 1) / PREFIX_BLOCK;
    for (int32_t k = 0; k < C; k++) {      /* blocked prefix sums, as in scan_xgb */
        double bs[256 / PREFIX_BLOCK];
        for (int32_t j = 0; j < n_blk; j++) {
            double s = 0;
            const int32_t e = FML_MIN(nb, (j + 1) * PREFIX_BLOCK);
            for (int32_t b = j * PREFIX_BLOCK; b < e; b++) s += hf[b * C + k];
            bs[j] = s;
        }
        double o = 0;
        for (int32_t j = 0; j < n_blk; j++) {
            double s = o;
            const int32_t e = FML_MIN(nb, (j + 1) * PREFIX_BLOCK);
            for (int32_t b = j * PREFIX_BLOCK; b < e; b++) {
                s += hf[b * C + k];
                cw[k * 256 + b] = s;
            }
            o += bs[j];
        }
        if (hf[FML_TREE_MISSING_BIN * C + k] != 0) has_missing = 1;
    }
    for (int32_t b = 0; b < nb; b++) cwt[b] = 0;
    for (int32_t k = 0; k < K; k++)
        for (int32_t b = 0; b < nb; b++) cwt[b] += cw[k * 256 + b];
    return has_missing;
}

#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")

/* Gini: score = sum_k wL_k^2 / WL + sum_k wR_k^2 / WR (higher is purer), as one fraction. */
static void FML_FN(gini_scores)(const double *restrict cw, const double *restrict cwt, int32_t n,
                                const double *restrict add, const fml_scan_ctx *ctx,
                                double *restrict sl, double *restrict sr, double *restrict sc)
{
    const int32_t K = ctx->n_classes;
    const double *T = ctx->total;
    double W = 0, addw = 0;
    for (int32_t k = 0; k < K; k++) {
        W += T[k];
        addw += add[k];
    }
    for (int32_t b = 0; b < n; b++) sl[b] = sr[b] = 0;
    for (int32_t k = 0; k < K; k++) {
        const double *restrict c = cw + k * 256;
        const double a = add[k], t = T[k];
        for (int32_t b = 0; b < n; b++) {
            const double l = c[b] + a, r = t - l;
            sl[b] += l * l;
            sr[b] += r * r;
        }
    }
    const double mcw = ctx->min_child_weight, msl = ctx->min_samples_leaf;
    const double *cnt = ctx->weighted ? cw + K * 256 : cwt;
    const double cnt_add = ctx->weighted ? add[K] : addw;
    const double count = ctx->count;
    for (int32_t b = 0; b < n; b++) {      /* selects on doubles: vectorises at any width */
        const double wl = cwt[b] + addw, wr = W - wl, den = wl * wr;
        const double nl = cnt[b] + cnt_add, nr = count - nl;
        double s = (sl[b] * wr + sr[b] * wl) / (den > 0 ? den : 1.0);
        s = wl >= mcw ? s : NEG_INF;
        s = wr >= mcw ? s : NEG_INF;
        s = wl > 0 ? s : NEG_INF;
        s = wr > 0 ? s : NEG_INF;
        s = nl >= msl ? s : NEG_INF;
        s = nr >= msl ? s : NEG_INF;
        sc[b] = s;
    }
}

#pragma GCC pop_options

static void FML_FN(class_left)(const double *restrict cw, int32_t b, const double *add, int32_t C,
                               double *left)
{
    for (int32_t k = 0; k < C; k++) left[k] = cw[k * 256 + b] + add[k];
}

static void FML_FN(scan_gini_dense)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                              fml_scan_result *res, double *left)
{
    const int32_t K = ctx->n_classes, C = K + (ctx->weighted ? 1 : 0);
    double *cw = ctx->scratch, *cwt = cw + C * 256, *sl = cwt + 256, *sr = sl + 256, *sc = sr + 256;
    double zero[C], miss[C];
    const int has_missing = FML_FN(class_prefix)(hf, nb, ctx, cw, cwt);
    for (int32_t k = 0; k < C; k++) {
        zero[k] = 0;
        miss[k] = hf[FML_TREE_MISSING_BIN * C + k];
    }
    res->score = NEG_INF;
    res->bin = -1;
    res->missing_left = 0;
    res->has_missing = has_missing;
    double best;
    const int32_t n_right = has_missing ? nb : nb - 1;
    if (n_right > 0) {
        FML_FN(gini_scores)(cw, cwt, n_right, zero, ctx, sl, sr, sc);
        const int32_t b = FML_FN(first_argmax)(sc, n_right, &best);
        if (b >= 0) {
            res->score = best;
            res->bin = b;
            FML_FN(class_left)(cw, b, zero, C, left);
        }
    }
    if (has_missing && nb > 1) {
        FML_FN(gini_scores)(cw, cwt, nb - 1, miss, ctx, sl, sr, sc);
        const int32_t b = FML_FN(first_argmax)(sc, nb - 1, &best);
        if (b >= 0 && best > res->score) {
            res->score = best;
            res->bin = b;
            res->missing_left = 1;
            FML_FN(class_left)(cw, b, miss, C, left);
        }
    }
}

static inline double FML_FN(xlogx)(double x) { return x > 0 ? x * __builtin_log(x) : 0.0; }

/* Entropy (nats): score = sum_k xlogx(wL_k) - xlogx(WL) + (same for R), higher
 * is purer.  Scalar: log does not vectorise without -ffast-math; empty bins
 * are skipped (their candidate equals the one before). */
static void FML_FN(entropy_dir)(const double *restrict cw, const double *restrict cwt,
                                const double *restrict hf, int32_t n, const double *add,
                                int missing_left, const fml_scan_ctx *ctx,
                                fml_scan_result *res, double *left)
{
    const int32_t K = ctx->n_classes, C = K + (ctx->weighted ? 1 : 0);
    const double *T = ctx->total;
    double W = 0, addw = 0;
    for (int32_t k = 0; k < K; k++) {
        W += T[k];
        addw += add[k];
    }
    const double mcw = ctx->min_child_weight, msl = ctx->min_samples_leaf;
    for (int32_t b = 0; b < n; b++) {
        int empty = 1;
        for (int32_t k = 0; k < C; k++)
            if (hf[b * C + k] != 0) empty = 0;
        if (empty && b > 0) continue;
        const double wl = cwt[b] + addw, wr = W - wl;
        const double nl = ctx->weighted ? cw[K * 256 + b] + add[K] : wl, nr = ctx->count - nl;
        if (!(wl >= mcw && wr >= mcw && wl > 0 && wr > 0 && nl >= msl && nr >= msl)) continue;
        double s = -FML_FN(xlogx)(wl) - FML_FN(xlogx)(wr);
        for (int32_t k = 0; k < K; k++) {
            const double l = cw[k * 256 + b] + add[k];
            s += FML_FN(xlogx)(l) + FML_FN(xlogx)(T[k] - l);
        }
        if (s > res->score) {
            res->score = s;
            res->bin = b;
            res->missing_left = missing_left;
            FML_FN(class_left)(cw, b, add, C, left);
        }
    }
}

static void FML_FN(scan_entropy_dense)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                                 fml_scan_result *res, double *left)
{
    const int32_t K = ctx->n_classes, C = K + (ctx->weighted ? 1 : 0);
    double *cw = ctx->scratch, *cwt = cw + C * 256;
    double zero[C], miss[C];
    const int has_missing = FML_FN(class_prefix)(hf, nb, ctx, cw, cwt);
    for (int32_t k = 0; k < C; k++) {
        zero[k] = 0;
        miss[k] = hf[FML_TREE_MISSING_BIN * C + k];
    }
    res->score = NEG_INF;
    res->bin = -1;
    res->missing_left = 0;
    res->has_missing = has_missing;
    FML_FN(entropy_dir)(cw, cwt, hf, has_missing ? nb : nb - 1, zero, 0, ctx, res, left);
    if (has_missing && nb > 1)
        FML_FN(entropy_dir)(cw, cwt, hf, nb - 1, miss, 1, ctx, res, left);
}

/* ---- small nodes ----------------------------------------------------------

 * A node with few rows occupies few bins, but a dense scan still walks all 255.
 * Below SMALL_NODE_ROWS rows the occupied bins (and the missing bin) are copied
 * into a compact histogram first; its candidates are the same partitions (a
 * split after an occupied bin; empty bins only repeat the score before them),
 * mapped back to bins at the end. */
static int32_t FML_FN(compact_bins)(const double *restrict hf, int32_t nb, int32_t C,
                                    double *restrict hc, int32_t *restrict ib)
{
    int32_t u = 0;
    for (int32_t b = 0; b < nb; b++) {
        int occupied = 0;
        for (int32_t k = 0; k < C; k++) occupied |= hf[b * C + k] != 0;
        ib[u] = b;                 /* branch-free append */
        u += occupied;
    }
    for (int32_t j = 0; j < u; j++)
        for (int32_t k = 0; k < C; k++) hc[j * C + k] = hf[ib[j] * C + k];
    for (int32_t k = 0; k < C; k++) hc[FML_TREE_MISSING_BIN * C + k] = hf[FML_TREE_MISSING_BIN * C + k];
    return u;
}

/* The histogram a scan should walk: hf itself, or for a small node its compact
 * copy (placed after the dense scan's own dense_doubles of scratch), with *nb
 * updated and *ib the bin of each compact slot (NULL when not compacted). */
static const double *FML_FN(small_node_view)(const double *hf, int32_t *nb,
                                             const fml_scan_ctx *ctx, int32_t C,
                                             int64_t dense_doubles, const int32_t **ib)
{
    *ib = NULL;
    if (ctx->count >= SMALL_NODE_ROWS || ctx->count >= *nb) return hf;
    double *hc = ctx->scratch + dense_doubles;
    int32_t *slots = (int32_t *)(hc + C * 256);
    *nb = FML_FN(compact_bins)(hf, *nb, C, hc, slots);
    *ib = slots;
    return hc;
}

static void FML_FN(scan_xgb)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                             fml_scan_result *res, double *left)
{
    const int32_t *ib;
    const double *h = FML_FN(small_node_view)(hf, &nb, ctx, 2, 3 * 256, &ib);
    FML_FN(scan_xgb_dense)(h, nb, ctx, res, left);
    if (ib && res->bin >= 0) res->bin = ib[res->bin];
}

static void FML_FN(scan_gini)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                              fml_scan_result *res, double *left)
{
    const int32_t C = ctx->n_classes + (ctx->weighted ? 1 : 0);
    const int32_t *ib;
    const double *h = FML_FN(small_node_view)(hf, &nb, ctx, C, (C + 4) * 256, &ib);
    FML_FN(scan_gini_dense)(h, nb, ctx, res, left);
    if (ib && res->bin >= 0) res->bin = ib[res->bin];
}

static void FML_FN(scan_entropy)(const double *restrict hf, int32_t nb, const fml_scan_ctx *ctx,
                                 fml_scan_result *res, double *left)
{
    const int32_t C = ctx->n_classes + (ctx->weighted ? 1 : 0);
    const int32_t *ib;
    const double *h = FML_FN(small_node_view)(hf, &nb, ctx, C, (C + 4) * 256, &ib);
    FML_FN(scan_entropy_dense)(h, nb, ctx, res, left);
    if (ib && res->bin >= 0) res->bin = ib[res->bin];
}

#undef NEG_INF
#undef SMALL_NODE_ROWS
#undef PREFIX_BLOCK
