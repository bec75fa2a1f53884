/* trees_grow.c: growing one histogram tree, and forests of them.
 *
 * Growth (one loop for every estimator):
 *   root: histogram over its rows, best split -> candidate list
 *   while candidates remain and leaves < max_leaf_nodes:
 *     take the candidate with the largest gain (max_leaf_nodes set: best-first,
 *     leaf-wise growth) or the last one pushed (no leaf limit: depth-first,
 *     which bounds the histograms kept to about the depth)
 *     partition its rows (stable), make the two children
 *     histogram of the smaller child; larger = parent - smaller (in the
 *     parent's slot); best split of each child that may split -> candidates
 * When features are drawn per node (max_features), a child's histogram covers
 * only its own draw, so both children are built directly and nothing is kept.
 *
 * Each node's rows are rows[start : start + count]; a split rewrites that range
 * as [left rows | right rows], each in increasing order:
 *
 *   rows:  ... | 3 5 8 9 12 17 | ...     bins(f): 3->0 5->7 8->2 9->9 12->1 17->4
 *   split "bin <= 2":  ... | 3 8 12 | 5 9 17 | ...
 *                           left      right
 *
 * Histogram slots live in a pool that grows up to a byte budget; two slots are
 * reserved as temporaries, so a candidate may lack a stored histogram (then its
 * children are both built directly).  Nothing here depends on the thread count:
 * histogram sums are fixed-order (trees_hist.c), split search takes the first
 * best feature, partition chunks depend on the node size only. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"
#include "trees/trees_internal.h"

#define NS FML_TREE_N_SLOTS
#define POOL_BYTES_MAX ((int64_t)1 << 30)
#define N_TEMP_SLOTS 2
#define PARTITION_CHUNK 32768
#define PARTITION_MAX_CHUNKS 64
#define SCAN_MIN_WORK_PER_THREAD 16384.0

/* ---- random numbers ------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fml_rng_seed(fml_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fml_rng_next(fml_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t fml_rng_below(fml_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased */
    uint64_t x = fml_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        const uint64_t t = -n % n;
        while (lo < t) {
            x = fml_rng_next(r);
            m = (__uint128_t)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* ---- the grower ----------------------------------------------------------- */

typedef struct {
    int32_t node;
    int32_t slot;          /* stored histogram, or -1 */
    double gain;
    int32_t feature, bin, missing_left;
} cand_t;

struct fml_tree_grower {
    /* histogram pool: slot s at pool + s * slot_len */
    double *pool;
    int64_t slot_len, n_slots;
    int32_t *free_slots;
    int64_t n_free, free_cap;
    /* row scratch */
    int32_t *rows_tmp;
    uint8_t *flags;
    double *og;
    int32_t *oc;
    double *ow;
    int64_t rows_cap;
    double *chunk_scratch;
    int64_t chunk_cap;
    double *scan_scratch;      /* per thread */
    int64_t scan_cap;
    fml_scan_result *feat_res;
    double *feat_left;
    int32_t *feat_draw;        /* features of the node being searched */
    int64_t feat_cap, feat_left_cap;
    /* the tree */
    fml_tree_node *nodes;
    double *node_sum;          /* n_channels per node */
    int64_t *node_start;
    double *node_ymin, *node_ymax;
    int64_t n_nodes, node_cap, node_sum_cap;
    cand_t *cands;
    double *cand_left;
    int64_t n_cands, cand_cap, cand_left_cap;
    /* the current fit */
    const fml_tree_params *p;
    int64_t C;                 /* channels */
    const uint8_t *bins;
    const int32_t *n_bins;
    const double *thresholds;
    int64_t n_samples, n_features;
    const int32_t *features;
    int64_t n_active;
    const double *gh;
    const int32_t *y_class;
    const double *w;
    const double *y_pure;
    int32_t *rows;
    int64_t n_threads;
    fml_rng rng;
    int sampling;
};

fml_tree_grower *fml_tree_grower_new(void)
{
    return (fml_tree_grower *)calloc(1, sizeof(fml_tree_grower));
}

void fml_tree_grower_free(fml_tree_grower *g)
{
    if (g == NULL) return;
    fml_scratch_free(g->pool);
    free(g->free_slots);
    fml_scratch_free(g->rows_tmp);
    fml_scratch_free(g->flags);
    fml_scratch_free(g->og);
    fml_scratch_free(g->oc);
    fml_scratch_free(g->ow);
    fml_scratch_free(g->chunk_scratch);
    fml_scratch_free(g->scan_scratch);
    free(g->feat_res);
    free(g->feat_left);
    free(g->feat_draw);
    free(g->nodes);
    free(g->node_sum);
    free(g->node_start);
    free(g->node_ymin);
    free(g->node_ymax);
    free(g->cands);
    free(g->cand_left);
    free(g);
}

int64_t fml_tree_grower_n_nodes(const fml_tree_grower *g) { return g->n_nodes; }

void fml_tree_grower_copy_out(const fml_tree_grower *g, fml_tree_node *nodes, double *values,
                              int64_t *node_start)
{
    if (nodes) memcpy(nodes, g->nodes, (size_t)g->n_nodes * sizeof(fml_tree_node));
    if (values && g->p->criterion != FML_TREE_XGB) {
        const int64_t K = g->p->n_classes;
        for (int64_t i = 0; i < g->n_nodes; i++)
            memcpy(values + i * K, g->node_sum + i * g->C, (size_t)K * sizeof(double));
    }
    if (node_start) memcpy(node_start, g->node_start, (size_t)g->n_nodes * sizeof(int64_t));
}

/* Grow *buf (aligned scratch) to hold n elements of size sz; keeps contents if keep. */
static int ensure_aligned(void **buf, int64_t *cap, int64_t n, size_t sz, int keep)
{
    if (n <= *cap && *buf != NULL) return FML_OK;
    int64_t want = n > 2 * *cap ? n : 2 * *cap;
    if (want < 16) want = 16;
    void *nb = fml_scratch_alloc((size_t)want * sz);
    if (nb == NULL) return FML_ENOMEM;
    if (keep && *buf != NULL) memcpy(nb, *buf, (size_t)*cap * sz);
    fml_scratch_free(*buf);
    *buf = nb;
    *cap = want;
    return FML_OK;
}

static int ensure_plain(void **buf, int64_t *cap, int64_t n, size_t sz)
{
    if (n <= *cap && *buf != NULL) return FML_OK;
    int64_t want = n > 2 * *cap ? n : 2 * *cap;
    if (want < 16) want = 16;
    void *nb = realloc(*buf, (size_t)want * sz);
    if (nb == NULL) return FML_ENOMEM;
    *buf = nb;
    *cap = want;
    return FML_OK;
}

/* ---- histogram slots ------------------------------------------------------ */

static double *slot_ptr(fml_tree_grower *g, int32_t s) { return g->pool + (int64_t)s * g->slot_len; }

/* Set the pool up for slot_len doubles per slot: the temporaries and nothing free. */
static int pool_reset(fml_tree_grower *g, int64_t slot_len)
{
    if (slot_len != g->slot_len || g->pool == NULL) {
        fml_scratch_free(g->pool);
        g->pool = NULL;
        g->n_slots = 0;
        g->slot_len = slot_len;
        g->pool = (double *)fml_scratch_alloc((size_t)N_TEMP_SLOTS * (size_t)slot_len * sizeof(double));
        if (g->pool == NULL) return FML_ENOMEM;
        g->n_slots = N_TEMP_SLOTS;
    }
    g->n_free = 0;
    for (int64_t s = g->n_slots - 1; s >= N_TEMP_SLOTS; s--) {
        if (ensure_plain((void **)&g->free_slots, &g->free_cap, g->n_free + 1, sizeof(int32_t)))
            return FML_ENOMEM;
        g->free_slots[g->n_free++] = (int32_t)s;
    }
    return FML_OK;
}

/* A slot to keep a histogram in, or -1 (budget reached or no memory). */
static int32_t slot_alloc(fml_tree_grower *g)
{
    if (g->n_free > 0) return g->free_slots[--g->n_free];
    const int64_t bytes_per = g->slot_len * (int64_t)sizeof(double);
    const int64_t max_slots = FML_MAX(N_TEMP_SLOTS + 4, POOL_BYTES_MAX / FML_MAX(bytes_per, 1));
    if (g->n_slots >= max_slots) return -1;
    const int64_t want = FML_MIN(max_slots, FML_MAX(g->n_slots * 2, N_TEMP_SLOTS + 8));
    double *np = (double *)fml_scratch_alloc((size_t)want * (size_t)g->slot_len * sizeof(double));
    if (np == NULL) return -1;
    memcpy(np, g->pool, (size_t)g->n_slots * (size_t)g->slot_len * sizeof(double));
    fml_scratch_free(g->pool);
    g->pool = np;
    if (ensure_plain((void **)&g->free_slots, &g->free_cap, want, sizeof(int32_t))) return -1;
    for (int64_t s = want - 1; s > g->n_slots; s--) g->free_slots[g->n_free++] = (int32_t)s;
    const int32_t got = (int32_t)g->n_slots;
    g->n_slots = want;
    return got;
}

static void slot_release(fml_tree_grower *g, int32_t s)
{
    if (s >= N_TEMP_SLOTS) g->free_slots[g->n_free++] = s;   /* free_cap >= n_slots */
}

/* ---- nodes ---------------------------------------------------------------- */

static int node_new(fml_tree_grower *g, int32_t depth, int64_t start, int64_t count)
{
    if (g->n_nodes >= INT32_MAX - 2) return -1;
    if (g->n_nodes >= g->node_cap) {
        const int64_t cap = FML_MAX(64, 2 * g->node_cap);
        void *a = realloc(g->nodes, (size_t)cap * sizeof(fml_tree_node));
        if (a == NULL) return -1;
        g->nodes = (fml_tree_node *)a;
        void *b = realloc(g->node_start, (size_t)cap * sizeof(int64_t));
        if (b == NULL) return -1;
        g->node_start = (int64_t *)b;
        void *c = realloc(g->node_ymin, (size_t)cap * sizeof(double));
        if (c == NULL) return -1;
        g->node_ymin = (double *)c;
        void *d = realloc(g->node_ymax, (size_t)cap * sizeof(double));
        if (d == NULL) return -1;
        g->node_ymax = (double *)d;
        g->node_cap = cap;
    }
    if (ensure_plain((void **)&g->node_sum, &g->node_sum_cap, g->node_cap * g->C, sizeof(double)))
        return -1;
    const int64_t id = g->n_nodes++;
    fml_tree_node *nd = &g->nodes[id];
    memset(nd, 0, sizeof(*nd));
    nd->feature = -1;
    nd->left = -1;
    nd->depth = depth;
    nd->count = count;
    g->node_start[id] = start;
    g->node_ymin[id] = 0;
    g->node_ymax[id] = 0;
    return (int)id;
}

/* ---- per-node work -------------------------------------------------------- */

/* Gather the node's per-row inputs in row order (og for XGB, oc/ow for class). */
static void gather(fml_tree_grower *g, const int32_t *rows, int64_t m, int identity)
{
    if (identity) return;
    const int nt = fml_threads_for(g->n_threads, 64, (double)m, 65536.0);
    if (g->p->criterion == FML_TREE_XGB) {
        const double *restrict gh = g->gh;
        double *restrict og = g->og;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t j = 0; j < m; j++) {
            const int64_t r = rows[j];
            og[2 * j] = gh[2 * r];
            og[2 * j + 1] = gh[2 * r + 1];
        }
    } else {
        const int32_t *restrict yc = g->y_class;
        const double *restrict w = g->w;
        int32_t *restrict oc = g->oc;
        double *restrict ow = g->ow;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t j = 0; j < m; j++) {
            const int64_t r = rows[j];
            oc[j] = yc[r];
            if (w) ow[j] = w[r];
        }
    }
}

/* Histogram of node `id` over features feats[0..nf) into slot s. */
static void build_hist(fml_tree_grower *g, int32_t id, int32_t s, const int32_t *feats, int64_t nf)
{
    const fml_tree_node *nd = &g->nodes[id];
    const int64_t start = g->node_start[id], m = nd->count;
    const int32_t *rows = g->rows + start;
    const int identity = (start == 0 && m == g->n_samples && g->n_nodes == 1 &&
                          rows[0] == 0 && rows[m - 1] == m - 1);
    int ident = identity;
    if (ident) {
        for (int64_t j = 0; j < m; j++)
            if (rows[j] != j) {
                ident = 0;
                break;
            }
    }
    gather(g, rows, m, ident);
    double *hist = slot_ptr(g, s);
    if (g->p->criterion == FML_TREE_XGB) {
        fml_tree_hist_xgb(g->bins, g->n_samples, feats, nf, ident ? NULL : rows, m,
                          ident ? g->gh : g->og, hist, g->chunk_scratch, g->n_threads);
    } else {
        fml_tree_hist_class(g->bins, g->n_samples, feats, nf, ident ? NULL : rows, m,
                            ident ? g->y_class : g->oc, ident ? g->w : (g->w ? g->ow : NULL),
                            g->C, g->p->weighted, hist, g->chunk_scratch, g->n_threads);
    }
}

static void scan_ctx_init(const fml_tree_grower *g, int32_t id, fml_scan_ctx *ctx)
{
    const fml_tree_params *p = g->p;
    ctx->total = g->node_sum + (int64_t)id * g->C;
    ctx->count = (double)g->nodes[id].count;
    ctx->lambda = p->l2_regularization;
    ctx->min_child_weight = p->min_child_weight;
    ctx->min_samples_leaf = (double)p->min_samples_leaf;
    ctx->hessian_is_count = p->hessian_is_count;
    ctx->n_classes = p->n_classes;
    ctx->weighted = p->weighted;
    ctx->scratch = NULL;
}

/* Gain in reported units from a scan score. */
static double gain_of(const fml_tree_grower *g, double score, double parent)
{
    const double d = score - parent;
    if (g->p->criterion == FML_TREE_XGB) return 0.5 * d;
    if (g->p->criterion == FML_TREE_ENTROPY) return d / 0.69314718055994530942;   /* bits */
    return d;
}

/* Best split of node id over feats (histogram in slot s); pushes a candidate
 * (keeping slot `keep`, or -1) and returns 1, or returns 0. */
static int find_split(fml_tree_grower *g, int32_t id, int32_t s, const int32_t *feats, int64_t nf,
                      int32_t keep)
{
    const int64_t C = g->C;
    fml_scan_ctx ctx;
    scan_ctx_init(g, id, &ctx);
    const double *hist = slot_ptr(g, s);
    const fml_scan_fn scan = g->p->criterion == FML_TREE_XGB ? fml_trees_k.scan_xgb
                           : g->p->criterion == FML_TREE_GINI ? fml_trees_k.scan_gini
                           : fml_trees_k.scan_entropy;
    const int64_t scan_len = (C + 4) * NS;
    const int nt = fml_threads_for(g->n_threads, nf, (double)nf * NS * (double)C,
                                   SCAN_MIN_WORK_PER_THREAD);
    fml_scan_result *res = g->feat_res;
    double *fl = g->feat_left;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        fml_scan_ctx my = ctx;
        my.scratch = g->scan_scratch + (int64_t)fml_thread_id() * scan_len;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < nf; i++) {
            const int64_t f = feats[i];
            scan(hist + f * NS * C, g->n_bins[f], &my, &res[i], fl + i * C);
        }
    }
    int64_t best = -1;
    for (int64_t i = 0; i < nf; i++)
        if (res[i].bin >= 0 && (best < 0 || res[i].score > res[best].score)) best = i;
    if (best < 0) return 0;
    const double parent = fml_tree_parent_score(g->p->criterion, &ctx);
    const double gain = gain_of(g, res[best].score, parent);
    const fml_tree_params *p = g->p;
    int ok;
    if (p->zero_gain_splits) {
        double wsum = p->criterion == FML_TREE_XGB ? fabs(ctx.total[1]) : 0.0;
        for (int32_t k = 0; p->criterion != FML_TREE_XGB && k < p->n_classes; k++) wsum += ctx.total[k];
        ok = gain >= p->min_split_gain - 1e-12 * (wsum > 1 ? wsum : 1.0);
    } else {
        ok = gain > p->min_split_gain;
    }
    if (!ok || !(gain == gain)) return 0;
    if (ensure_plain((void **)&g->cands, &g->cand_cap, g->n_cands + 1, sizeof(cand_t))) return -1;
    if (ensure_plain((void **)&g->cand_left, &g->cand_left_cap, g->cand_cap * C, sizeof(double)))
        return -1;
    cand_t *c = &g->cands[g->n_cands];
    c->node = id;
    c->slot = keep;
    c->gain = gain;
    c->feature = feats[best];
    c->bin = res[best].bin;
    c->missing_left = res[best].missing_left;
    memcpy(g->cand_left + g->n_cands * C, fl + best * C, (size_t)C * sizeof(double));
    g->n_cands++;
    return 1;
}

/* May node id be split at all (before looking at splits)? */
static int splittable(const fml_tree_grower *g, int32_t id)
{
    const fml_tree_params *p = g->p;
    const fml_tree_node *nd = &g->nodes[id];
    const double *t = g->node_sum + (int64_t)id * g->C;
    if (p->max_depth > 0 && nd->depth >= p->max_depth) return 0;
    if (nd->count < p->min_samples_split || nd->count < 2 * p->min_samples_leaf) return 0;
    if (p->criterion == FML_TREE_XGB) {
        if (t[1] < 2 * p->min_child_weight) return 0;
        if (p->check_pure && g->y_pure && !(g->node_ymin[id] < g->node_ymax[id])) return 0;
    } else {
        double W = 0, mx = 0;
        int nonzero = 0;
        for (int32_t k = 0; k < p->n_classes; k++) {
            W += t[k];
            if (t[k] > mx) mx = t[k];
            nonzero += t[k] > 0;
        }
        if (W < 2 * p->min_child_weight || nonzero <= 1) return 0;
    }
    return 1;
}

/* Draw the features of a node into g->feat_draw (increasing); returns how many. */
static int64_t draw_features(fml_tree_grower *g, int32_t *out)
{
    const int64_t na = g->n_active;
    if (!g->sampling) {
        memcpy(out, g->features, (size_t)na * sizeof(int32_t));
        return na;
    }
    int32_t *tmp = g->feat_draw + g->n_features;   /* second half: a permutation buffer */
    memcpy(tmp, g->features, (size_t)na * sizeof(int32_t));
    const int64_t k = g->p->max_features;
    for (int64_t i = 0; i < k; i++) {              /* partial Fisher-Yates */
        const int64_t j = i + (int64_t)fml_rng_below(&g->rng, (uint64_t)(na - i));
        const int32_t t = tmp[i];
        tmp[i] = tmp[j];
        tmp[j] = t;
    }
    /* the first k in increasing order (a counting pass over the active list) */
    int64_t n = 0;
    for (int64_t i = 0; i < k; i++) {
        int32_t v = tmp[i];
        int64_t pos = n++;
        while (pos > 0 && out[pos - 1] > v) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = v;
    }
    return k;
}

/* Stable partition of node P's rows by its split.  Returns the left count and
 * the y range of each side (check_pure). */
static int64_t partition(fml_tree_grower *g, int64_t start, int64_t count, int32_t f, int32_t bin,
                         int32_t ml, double *ymin, double *ymax)
{
    int32_t *restrict rows = g->rows + start;
    int32_t *restrict tmp = g->rows_tmp;
    uint8_t *restrict flags = g->flags;
    const uint8_t *restrict col = g->bins + (int64_t)f * g->n_samples;
    const double *restrict y = g->p->check_pure ? g->y_pure : NULL;
    const uint8_t b = (uint8_t)bin, mlb = (uint8_t)(ml != 0);
    int64_t n_chunks = count / PARTITION_CHUNK;
    if (n_chunks < 1) n_chunks = 1;
    if (n_chunks > PARTITION_MAX_CHUNKS) n_chunks = PARTITION_MAX_CHUNKS;
    int64_t nl_chunk[PARTITION_MAX_CHUNKS + 1];
    double lo[2][PARTITION_MAX_CHUNKS], hi[2][PARTITION_MAX_CHUNKS];
    const int nt = fml_threads_for(g->n_threads, n_chunks, (double)count, 65536.0);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t j0 = fml_chunk_start(count, n_chunks, c), j1 = fml_chunk_start(count, n_chunks, c + 1);
            int64_t nl = 0;
            double l0 = INFINITY, l1 = -INFINITY, r0 = INFINITY, r1 = -INFINITY;
            for (int64_t j = j0; j < j1; j++) {
                const uint8_t v = col[rows[j]];
                const uint8_t left = (uint8_t)((v <= b) | ((v == FML_TREE_MISSING_BIN) & mlb));
                flags[j] = left;
                nl += left;
            }
            if (y) {
                for (int64_t j = j0; j < j1; j++) {
                    const double v = y[rows[j]];
                    if (flags[j]) {
                        l0 = v < l0 ? v : l0;
                        l1 = v > l1 ? v : l1;
                    } else {
                        r0 = v < r0 ? v : r0;
                        r1 = v > r1 ? v : r1;
                    }
                }
            }
            nl_chunk[c] = nl;
            lo[0][c] = l0; hi[0][c] = l1; lo[1][c] = r0; hi[1][c] = r1;
        }
#pragma omp single
        {
            int64_t acc = 0;
            for (int64_t c = 0; c < n_chunks; c++) {
                const int64_t v = nl_chunk[c];
                nl_chunk[c] = acc;
                acc += v;
            }
            nl_chunk[n_chunks] = acc;
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t j0 = fml_chunk_start(count, n_chunks, c), j1 = fml_chunk_start(count, n_chunks, c + 1);
            int64_t il = nl_chunk[c], ir = nl_chunk[n_chunks] + (j0 - nl_chunk[c]);
            for (int64_t j = j0; j < j1; j++) {
                const uint8_t left = flags[j];
                const int64_t dst = left ? il : ir;   /* a select, not a branch */
                tmp[dst] = rows[j];
                il += left;
                ir += 1 - left;
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t j0 = fml_chunk_start(count, n_chunks, c), j1 = fml_chunk_start(count, n_chunks, c + 1);
            memcpy(rows + j0, tmp + j0, (size_t)(j1 - j0) * sizeof(int32_t));
        }
    }
    if (y) {
        ymin[0] = ymin[1] = INFINITY;
        ymax[0] = ymax[1] = -INFINITY;
        for (int64_t c = 0; c < n_chunks; c++)
            for (int s = 0; s < 2; s++) {
                if (lo[s][c] < ymin[s]) ymin[s] = lo[s][c];
                if (hi[s][c] > ymax[s]) ymax[s] = hi[s][c];
            }
    }
    return nl_chunk[n_chunks];
}

/* Split candidate ci; pushes the children's candidates.  0 or an FML_* error. */
static int split_candidate(fml_tree_grower *g, cand_t cand, const double *cand_left)
{
    const int64_t C = g->C;
    const int32_t P = cand.node;
    const int64_t start = g->node_start[P], count = g->nodes[P].count;
    const int32_t depth = g->nodes[P].depth;
    double ymin[2] = {0, 0}, ymax[2] = {0, 0};
    const int64_t nl = partition(g, start, count, cand.feature, cand.bin, cand.missing_left, ymin, ymax);
    if (nl == 0 || nl == count) {     /* rounding let an empty side through: keep a leaf */
        if (cand.slot >= 0) slot_release(g, cand.slot);
        return FML_OK;
    }
    const int L = node_new(g, depth + 1, start, nl);
    const int R = node_new(g, depth + 1, start + nl, count - nl);
    if (L < 0 || R < 0) return FML_ENOMEM;
    fml_tree_node *pn = &g->nodes[P];
    pn->feature = cand.feature;
    pn->left = L;
    pn->bin = (uint8_t)cand.bin;
    pn->missing_left = (uint8_t)cand.missing_left;
    pn->gain = cand.gain;
    pn->threshold = g->thresholds[(int64_t)cand.feature * NS + cand.bin];
    double *sp = g->node_sum + (int64_t)P * C, *sl = g->node_sum + (int64_t)L * C,
           *sr = g->node_sum + (int64_t)R * C;
    for (int64_t c = 0; c < C; c++) {
        sl[c] = cand_left[c];
        sr[c] = sp[c] - cand_left[c];
    }
    if (g->p->criterion == FML_TREE_XGB && g->p->hessian_is_count) {
        sl[1] = (double)nl;       /* exact counts: no drift from subtraction */
        sr[1] = (double)(count - nl);
    }
    g->node_ymin[L] = ymin[0]; g->node_ymax[L] = ymax[0];
    g->node_ymin[R] = ymin[1]; g->node_ymax[R] = ymax[1];
    const int okL = splittable(g, L), okR = splittable(g, R);
    int32_t pslot = cand.slot;
    if (!okL && !okR) {
        if (pslot >= 0) slot_release(g, pslot);
        return FML_OK;
    }
    int32_t *fd = g->feat_draw;
    if (g->sampling || pslot < 0) {
        if (pslot >= 0) slot_release(g, pslot);
        const int kids[2] = {L, R}, ok[2] = {okL, okR};
        for (int i = 0; i < 2; i++) {
            if (!ok[i]) continue;
            const int64_t nf = draw_features(g, fd);
            int32_t s = g->sampling ? -1 : slot_alloc(g);
            const int32_t use = s >= 0 ? s : 0;
            build_hist(g, kids[i], use, fd, nf);
            const int r = find_split(g, kids[i], use, fd, nf, s);
            if (r < 0) return FML_ENOMEM;
            if (r == 0 && s >= 0) slot_release(g, s);
        }
        return FML_OK;
    }
    const int64_t nf = draw_features(g, fd);
    const int small = (nl <= count - nl) ? L : R, large = small == L ? R : L;
    const int ok_small = small == L ? okL : okR, ok_large = small == L ? okR : okL;
    int32_t s_small = ok_small ? slot_alloc(g) : -1;
    const int32_t use_small = s_small >= 0 ? s_small : 0;
    build_hist(g, small, use_small, fd, nf);
    if (ok_large) {
        fml_tree_hist_subtract(slot_ptr(g, pslot), slot_ptr(g, pslot), slot_ptr(g, use_small), fd, nf,
                               C, g->n_threads);
    }
    if (ok_small) {
        const int r = find_split(g, small, use_small, fd, nf, s_small);
        if (r < 0) return FML_ENOMEM;
        if (r == 0 && s_small >= 0) slot_release(g, s_small);
    }
    if (ok_large) {
        const int r = find_split(g, large, pslot, fd, nf, pslot);
        if (r < 0) return FML_ENOMEM;
        if (r == 0) slot_release(g, pslot);
    } else {
        slot_release(g, pslot);
    }
    return FML_OK;
}

static int setup(fml_tree_grower *g, int64_t n_rows)
{
    const fml_tree_params *p = g->p;
    const int64_t C = g->C, nf = g->n_features;
    int err = 0;
    err |= ensure_aligned((void **)&g->rows_tmp, &g->rows_cap, n_rows, sizeof(int32_t), 0);
    if (err) return FML_ENOMEM;
    /* the other row buffers follow rows_cap */
    fml_scratch_free(g->flags);
    fml_scratch_free(g->og);
    fml_scratch_free(g->oc);
    fml_scratch_free(g->ow);
    g->flags = (uint8_t *)fml_scratch_alloc((size_t)g->rows_cap);
    g->og = p->criterion == FML_TREE_XGB ? (double *)fml_scratch_alloc((size_t)g->rows_cap * 2 * sizeof(double)) : NULL;
    g->oc = p->criterion != FML_TREE_XGB ? (int32_t *)fml_scratch_alloc((size_t)g->rows_cap * sizeof(int32_t)) : NULL;
    g->ow = p->criterion != FML_TREE_XGB && g->w ? (double *)fml_scratch_alloc((size_t)g->rows_cap * sizeof(double)) : NULL;
    if (!g->flags || (p->criterion == FML_TREE_XGB && !g->og) || (p->criterion != FML_TREE_XGB && !g->oc) ||
        (p->criterion != FML_TREE_XGB && g->w && !g->ow))
        return FML_ENOMEM;
    const int64_t chunk_len = 16 * 8 * NS * C;   /* MAX_CHUNKS x ROW_PARALLEL_MAX_FEATURES */
    err |= ensure_aligned((void **)&g->chunk_scratch, &g->chunk_cap, chunk_len, sizeof(double), 0);
    const int64_t nt_max = FML_MIN(g->n_threads, nf);   /* split search uses <= nf threads */
    err |= ensure_aligned((void **)&g->scan_scratch, &g->scan_cap, (int64_t)nt_max * (C + 4) * NS,
                          sizeof(double), 0);
    err |= ensure_plain((void **)&g->feat_res, &g->feat_cap, nf, sizeof(fml_scan_result));
    int64_t fl_cap = g->feat_left_cap;
    err |= ensure_plain((void **)&g->feat_left, &fl_cap, nf * C, sizeof(double));
    g->feat_left_cap = fl_cap;
    void *fd = realloc(g->feat_draw, (size_t)(2 * nf + 1) * sizeof(int32_t));
    if (fd == NULL) return FML_ENOMEM;
    g->feat_draw = (int32_t *)fd;
    if (err) return FML_ENOMEM;
    return pool_reset(g, nf * NS * C);
}

int fml_tree_grow(fml_tree_grower *g, const fml_tree_params *params, const uint8_t *bins,
                  const int32_t *n_bins, int64_t n_samples, int64_t n_features,
                  const int32_t *features, int64_t n_active, const double *gh,
                  const int32_t *y_class, const double *w, const double *y_pure,
                  int32_t *rows, int64_t n_rows, const double *thresholds, int64_t n_threads)
{
    if (g == NULL || params == NULL) return FML_EINVAL;
    g->p = params;
    g->C = params->criterion == FML_TREE_XGB ? 2 : params->n_classes + (params->weighted ? 1 : 0);
    g->bins = bins;
    g->n_bins = n_bins;
    g->thresholds = thresholds;
    g->n_samples = n_samples;
    g->n_features = n_features;
    g->features = features;
    g->n_active = n_active;
    g->gh = gh;
    g->y_class = y_class;
    g->w = w;
    g->y_pure = params->check_pure ? y_pure : NULL;
    g->rows = rows;
    g->n_threads = n_threads < 1 ? 1 : n_threads;
    g->n_nodes = 0;
    g->n_cands = 0;
    g->sampling = params->max_features > 0 && params->max_features < n_active;
    fml_rng_seed(&g->rng, params->seed);
    if (n_rows <= 0 || n_active <= 0 || g->C < 1) return FML_EINVAL;   /* Python checks these */
    int err = setup(g, n_rows);
    if (err) return err;
    {
        const int root = node_new(g, 0, 0, n_rows);
        if (root < 0) return FML_ENOMEM;
        int32_t *fd = g->feat_draw;
        const int64_t nf = draw_features(g, fd);
        const int32_t s = slot_alloc(g);
        const int32_t use = s >= 0 ? s : 0;
        build_hist(g, root, use, fd, nf);
        /* root sums: all bins of the first feature, in bin order */
        const double *h0 = slot_ptr(g, use) + (int64_t)fd[0] * NS * g->C;
        double *t = g->node_sum;
        for (int64_t c = 0; c < g->C; c++) t[c] = 0;
        for (int64_t b = 0; b < NS; b++)
            for (int64_t c = 0; c < g->C; c++) t[c] += h0[b * g->C + c];
        if (params->criterion == FML_TREE_XGB && params->hessian_is_count) t[1] = (double)n_rows;
        if (g->y_pure) {
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t j = 0; j < n_rows; j++) {
                const double v = y_pure[rows[j]];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            g->node_ymin[0] = lo;
            g->node_ymax[0] = hi;
        }
        int r = 0;
        if (splittable(g, root)) r = find_split(g, root, use, fd, nf, g->sampling ? -1 : s);
        if (r < 0) return FML_ENOMEM;
        if (r == 0 || g->sampling) slot_release(g, s);
        int64_t n_leaves = 1;
        const int best_first = params->max_leaf_nodes > 0;
        while (g->n_cands > 0 && (!best_first || n_leaves < params->max_leaf_nodes)) {
            int64_t ci = g->n_cands - 1;
            if (best_first) {
                for (int64_t i = 0; i < g->n_cands; i++) {
                    const cand_t *a = &g->cands[i], *b = &g->cands[ci];
                    if (a->gain > b->gain || (a->gain == b->gain && a->node < b->node)) ci = i;
                }
            }
            const cand_t cand = g->cands[ci];
            double left[g->C];
            memcpy(left, g->cand_left + ci * g->C, (size_t)g->C * sizeof(double));
            /* remove ci, keeping the order of the others (depth-first pops the end) */
            memmove(g->cands + ci, g->cands + ci + 1, (size_t)(g->n_cands - ci - 1) * sizeof(cand_t));
            memmove(g->cand_left + ci * g->C, g->cand_left + (ci + 1) * g->C,
                    (size_t)(g->n_cands - ci - 1) * g->C * sizeof(double));
            g->n_cands--;
            err = split_candidate(g, cand, left);
            if (err) return err;
            n_leaves++;
        }
        for (int64_t i = 0; i < g->n_cands; i++)
            if (g->cands[i].slot >= 0) slot_release(g, g->cands[i].slot);
        g->n_cands = 0;
    }
    /* node values */
    for (int64_t i = 0; i < g->n_nodes; i++) {
        fml_tree_node *nd = &g->nodes[i];
        const double *t = g->node_sum + i * g->C;
        if (params->criterion == FML_TREE_XGB) {
            const double d = t[1] + params->l2_regularization;
            nd->value = d > 0 ? -t[0] / d * params->leaf_scale : 0.0;
            nd->weight = t[1];
        } else {
            double W = 0;
            for (int32_t k = 0; k < params->n_classes; k++) W += t[k];
            nd->weight = W;
        }
    }
    return FML_OK;
}

/* ---- forests -------------------------------------------------------------- */

void fml_forest_bootstrap_counts(uint64_t seed, int64_t n_samples, int64_t n_draw, int32_t *counts)
{
    fml_rng r;
    fml_rng_seed(&r, seed ^ 0x5bd1e9955bd1e995ULL);
    memset(counts, 0, (size_t)n_samples * sizeof(int32_t));
    for (int64_t i = 0; i < n_draw; i++) counts[fml_rng_below(&r, (uint64_t)n_samples)]++;
}

void fml_forest_result_free(fml_forest_tree *out, int64_t n_trees)
{
    for (int64_t t = 0; t < n_trees; t++) {
        free(out[t].nodes);
        free(out[t].values);
        out[t].nodes = NULL;
        out[t].values = NULL;
        out[t].n_nodes = 0;
    }
}

int fml_forest_grow(const fml_tree_params *params, const uint8_t *bins, const int32_t *n_bins,
                    int64_t n_samples, int64_t n_features, const double *gh,
                    const int32_t *y_class, const double *w, const double *y_pure,
                    const uint64_t *seeds, int64_t n_trees, int bootstrap, int64_t n_draw,
                    const double *thresholds, fml_forest_tree *out, int64_t n_threads)
{
    for (int64_t t = 0; t < n_trees; t++) {
        out[t].nodes = NULL;
        out[t].values = NULL;
        out[t].n_nodes = 0;
    }
    if (n_trees <= 0) return FML_OK;
    int32_t *features = (int32_t *)malloc((size_t)(n_features > 0 ? n_features : 1) * sizeof(int32_t));
    if (features == NULL) return FML_ENOMEM;
    for (int64_t f = 0; f < n_features; f++) features[f] = (int32_t)f;
    const int64_t n_rows = bootstrap ? n_draw : n_samples;
    const int nt = fml_threads_for(n_threads, n_trees, 0.0, 0.0);
    int err = FML_OK;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
    {
        fml_tree_grower *g = fml_tree_grower_new();
        int32_t *rows = (int32_t *)fml_scratch_alloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof(int32_t));
        int32_t *counts = bootstrap ? (int32_t *)malloc((size_t)(n_samples > 0 ? n_samples : 1) * sizeof(int32_t)) : NULL;
        if (g == NULL || rows == NULL || (bootstrap && counts == NULL)) err |= FML_ENOMEM;
        const int mine_ok = err == FML_OK;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < n_trees; t++) {
            if (!mine_ok) continue;
            if (bootstrap) {
                fml_forest_bootstrap_counts(seeds[t], n_samples, n_draw, counts);
                int64_t j = 0;
                for (int64_t i = 0; i < n_samples; i++)
                    for (int32_t c = 0; c < counts[i]; c++) rows[j++] = (int32_t)i;
            } else {
                for (int64_t i = 0; i < n_samples; i++) rows[i] = (int32_t)i;
            }
            fml_tree_params p = *params;
            p.seed = seeds[t];
            int e = fml_tree_grow(g, &p, bins, n_bins, n_samples, n_features, features, n_features,
                                  gh, y_class, w, y_pure, rows, n_rows, thresholds, 1);
            if (e == FML_OK) {
                const int64_t nn = g->n_nodes;
                const int64_t K = params->criterion == FML_TREE_XGB ? 0 : params->n_classes;
                out[t].nodes = (fml_tree_node *)malloc((size_t)nn * sizeof(fml_tree_node));
                out[t].values = K ? (double *)malloc((size_t)(nn * K) * sizeof(double)) : NULL;
                if (out[t].nodes == NULL || (K && out[t].values == NULL)) {
                    e = FML_ENOMEM;
                } else {
                    fml_tree_grower_copy_out(g, out[t].nodes, out[t].values, NULL);
                    out[t].n_nodes = nn;
                }
            }
            err |= e;
        }
        fml_tree_grower_free(g);
        fml_scratch_free(rows);
        free(counts);
    }
    free(features);
    if (err != FML_OK) fml_forest_result_free(out, n_trees);
    return err;
}
