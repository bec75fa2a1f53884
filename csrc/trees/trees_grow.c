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
#include "core/fml_interrupt.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"
#include "trees/trees_internal.h"

#define NS FML_TREE_N_SLOTS
#define POOL_BYTES_MAX ((int64_t)1 << 30)
#define N_TEMP_SLOTS 2
#define PARTITION_CHUNK 16384
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
    int32_t feature, bin, missing_left, has_missing;
} cand_t;

struct fml_tree_grower {
    /* histogram pool: slot s at pool + s * slot_len */
    double *pool;
    int64_t slot_len, n_slots;
    int32_t *free_slots;
    int64_t n_free, free_cap;
    /* row scratch */
    int32_t *rows_tmp, *rows_tmp2;   /* partition: left / right rows of each chunk */
    double *og;                       /* ordered inputs by position in rows */
    int32_t *oc;
    double *ow;
    int64_t rows_cap;
    double *chunk_scratch;
    int64_t chunk_cap;
    double *scan_scratch;      /* per thread */
    int64_t scan_cap;
    fml_scan_result *feat_res;   /* 2 x n_features: the results of up to two nodes */
    double *feat_left;           /* 2 x n_features x C */
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
    /* decided by the partition of the current split */
    int ok_child[2];
    int gather_side[2];
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
    fml_scratch_free(g->rows_tmp2);
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

/* Ordered inputs of positions [p0, p1) of rows into og / oc / ow. */
static void gather_range(fml_tree_grower *g, int64_t p0, int64_t p1)
{
    const int32_t *restrict rows = g->rows;
    if (g->p->criterion == FML_TREE_XGB) {
        const double *restrict gh = g->gh;
        double *restrict og = g->og;
        if (g->p->hessian_is_count) {          /* constant hessian: g only */
            for (int64_t j = p0; j < p1; j++) og[j] = gh[2 * (int64_t)rows[j]];
        } else {
            for (int64_t j = p0; j < p1; j++) {
                const int64_t r = rows[j];
                og[2 * j] = gh[2 * r];
                og[2 * j + 1] = gh[2 * r + 1];
            }
        }
    } else {
        const int32_t *restrict yc = g->y_class;
        const double *restrict w = g->w;
        int32_t *restrict oc = g->oc;
        double *restrict ow = g->ow;
        for (int64_t j = p0; j < p1; j++) {
            const int64_t r = rows[j];
            oc[j] = yc[r];
            if (w) ow[j] = w[r];
        }
    }
}

/* The histogram source of node id (rows and ordered inputs by position). */
static void node_src(const fml_tree_grower *g, int32_t id, int identity, fml_hist_src *src)
{
    const int64_t start = g->node_start[id];
    src->kind = g->p->criterion == FML_TREE_XGB ? 0 : 1;
    src->weighted = g->p->weighted;
    src->C = g->C;
    src->bins = g->bins;
    src->n_samples = g->n_samples;
    src->m = g->nodes[id].count;
    src->const_h = g->p->criterion == FML_TREE_XGB && g->p->hessian_is_count;
    if (identity) {          /* the root over rows 0..n-1: no index, inputs as given */
        src->rows = NULL;
        src->og = g->gh;
        src->og_stride = 2;
        src->oc = g->y_class;
        src->ow = g->w;
    } else {
        src->rows = g->rows + start;
        src->og_stride = src->const_h ? 1 : 2;
        src->og = g->og ? g->og + src->og_stride * start : NULL;
        src->oc = g->oc ? g->oc + start : NULL;
        src->ow = g->w ? g->ow + start : NULL;
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

static fml_scan_fn scan_fn(const fml_tree_grower *g)
{
    return g->p->criterion == FML_TREE_XGB ? fml_trees_k.scan_xgb
         : g->p->criterion == FML_TREE_GINI ? fml_trees_k.scan_gini
         : fml_trees_k.scan_entropy;
}

/* What one task of hist_scan needs. */
typedef struct {
    fml_tree_grower *g;
    const int32_t *feats;
    int64_t nf;
    int n_build;
    const int32_t *build_slot;
    int32_t sub_slot;
    int n_scan;
    const int32_t *scan_slot;
    const fml_hist_src *src;
    const fml_scan_ctx *ctx;
    fml_scan_fn scan;
} hist_scan_job;

/* Feature group gi: histograms of the built nodes, the subtraction, the scans. */
static void hist_scan_group(const hist_scan_job *jb, int64_t gi)
{
    fml_tree_grower *g = jb->g;
    const int64_t C = g->C, nfeat = g->n_features, GR = FML_TREE_HIST_GROUP;
    const int32_t *fg = jb->feats + gi * GR;
    const int64_t G = FML_MIN(GR, jb->nf - gi * GR);
    for (int k = 0; k < jb->n_build; k++)
        fml_tree_hist_features(&jb->src[k], fg, G, slot_ptr(g, jb->build_slot[k]));
    if (jb->sub_slot >= 0)
        fml_tree_hist_subtract(slot_ptr(g, jb->sub_slot), slot_ptr(g, jb->sub_slot),
                               slot_ptr(g, jb->build_slot[0]), fg, G, C);
    /* thread ids of the grower's own team; a single-threaded grower may run on
     * any thread of an outer team (forests) and uses slot 0 */
    const int64_t tid = g->n_threads > 1 ? fml_thread_id() : 0;
    double *scratch = g->scan_scratch + tid * FML_SCAN_SCRATCH(C);
    for (int k = 0; k < jb->n_scan; k++) {
        fml_scan_ctx my = jb->ctx[k];
        my.scratch = scratch;
        const double *hist = slot_ptr(g, jb->scan_slot[k]);
        for (int64_t t = 0; t < G; t++) {
            const int64_t i = gi * GR + t, f = fg[t];
            jb->scan(hist + f * NS * C, g->n_bins[f], &my, &g->feat_res[k * nfeat + i],
                     g->feat_left + (k * nfeat + i) * C);
        }
    }
}

/* Histograms and split search of one split's children in as few parallel
 * regions as the shape allows (one, unless the features are so few that the
 * histogram goes row-parallel):
 *   build nodes build_node[k] into build_slot[k] (k < n_build);
 *   sub_slot >= 0: hist(sub_slot) -= hist(build_slot[0]) (the larger child);
 *   scan nodes scan_node[k] with histograms in scan_slot[k] (k < n_scan <= 2),
 *   results in feat_res[k * n_features + i]. */
static void hist_scan(fml_tree_grower *g, const int32_t *feats, int64_t nf, int n_build,
                      const int32_t *build_node, const int32_t *build_slot, int32_t sub_slot,
                      int n_scan, const int32_t *scan_node, const int32_t *scan_slot)
{
    const int64_t C = g->C;
    fml_hist_src src[2];
    double work = 0;
    int64_t max_m = 0;
    for (int k = 0; k < n_build; k++) {
        node_src(g, build_node[k], 0, &src[k]);
        work += (double)src[k].m * (double)nf;
        max_m = FML_MAX(max_m, src[k].m);
    }
    fml_scan_ctx ctx[2];
    for (int k = 0; k < n_scan; k++) {
        scan_ctx_init(g, scan_node[k], &ctx[k]);
        work += (double)nf * NS * (double)C * 2.0;
    }
    if (n_build > 0 && fml_tree_hist_row_chunks(nf, max_m) > 0) {
        /* few features, many rows: row-parallel histograms first */
        for (int k = 0; k < n_build; k++)
            fml_tree_hist_build(&src[k], feats, nf, slot_ptr(g, build_slot[k]), g->chunk_scratch,
                                g->n_threads);
        if (sub_slot >= 0)
            fml_tree_hist_subtract(slot_ptr(g, sub_slot), slot_ptr(g, sub_slot),
                                   slot_ptr(g, build_slot[0]), feats, nf, C);
        n_build = 0;
        sub_slot = -1;
    }
    const int64_t n_groups = (nf + FML_TREE_HIST_GROUP - 1) / FML_TREE_HIST_GROUP;
    const int nt = fml_threads_for(g->n_threads, n_groups, work, SCAN_MIN_WORK_PER_THREAD);
    const hist_scan_job job = {g, feats, nf, n_build, build_slot, sub_slot, n_scan, scan_slot,
                               src, ctx, scan_fn(g)};
    if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
        for (int64_t gi = 0; gi < n_groups; gi++) hist_scan_group(&job, gi);
    } else {
        for (int64_t gi = 0; gi < n_groups; gi++) hist_scan_group(&job, gi);
    }
}

/* Best of the scan results k of node id over feats: push a candidate keeping
 * slot `keep` (or -1) and return 1; 0 when no split qualifies; -1 on ENOMEM. */
static int push_best(fml_tree_grower *g, int k, int32_t id, const int32_t *feats, int64_t nf,
                     int32_t keep)
{
    const int64_t C = g->C;
    const fml_scan_result *res = g->feat_res + k * g->n_features;
    const double *fl = g->feat_left + k * g->n_features * C;
    int64_t best = -1;
    for (int64_t i = 0; i < nf; i++)
        if (res[i].bin >= 0 && (best < 0 || res[i].score > res[best].score)) best = i;
    if (best < 0) return 0;
    fml_scan_ctx ctx;
    scan_ctx_init(g, id, &ctx);
    const double parent = fml_tree_parent_score(g->p->criterion, &ctx);
    const double gain = gain_of(g, res[best].score, parent);
    const fml_tree_params *p = g->p;
    int ok;
    if (p->zero_gain_splits) {
        double wsum = p->criterion == FML_TREE_XGB ? fabs(ctx.total[1]) : 0.0;
        for (int32_t c = 0; p->criterion != FML_TREE_XGB && c < p->n_classes; c++) wsum += ctx.total[c];
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
    c->has_missing = res[best].has_missing;
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
        double W = 0;
        int nonzero = 0;
        for (int32_t k = 0; k < p->n_classes; k++) {
            W += t[k];
            nonzero += t[k] > 0;
        }
        if (W < 2 * p->min_child_weight || nonzero <= 1) return 0;
    }
    return 1;
}

/* Draw the features of a node into out (increasing); returns how many. */
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
    for (int64_t i = 0; i < k; i++) {              /* the draw in increasing order */
        const int32_t v = tmp[i];
        int64_t pos = i;
        while (pos > 0 && out[pos - 1] > v) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = v;
    }
    return k;
}

/* After the partition counted the children L, R of a split: may they split,
 * and which children need their inputs gathered (for a histogram from rows). */
static void decide_children(fml_tree_grower *g, int32_t L, int32_t R, int parent_has_hist)
{
    g->ok_child[0] = splittable(g, L);
    g->ok_child[1] = splittable(g, R);
    g->gather_side[0] = g->gather_side[1] = 0;
    if (!g->ok_child[0] && !g->ok_child[1]) return;
    if (g->sampling || !parent_has_hist) {
        g->gather_side[0] = g->ok_child[0];
        g->gather_side[1] = g->ok_child[1];
    } else {
        const int small = g->nodes[L].count <= g->nodes[R].count ? 0 : 1;
        g->gather_side[small] = 1;   /* built from rows, the other by subtraction */
    }
}

/* Stable partition of the rows of node P (children L = P's left, R = L + 1,
 * created by the caller with their sums) by the split (f, bin, ml):
 *
 *   pass 1, per chunk c:  rows -> tmp  (chunk's lefts at tmp[j0..], rights at tmp2[j0..]),
 *                         counts and the y range of each side
 *   then (one thread):    prefix sums, child counts, decide_children()
 *   pass 2, per chunk c:  tmp -> rows[start + lefts before c ...],
 *                         tmp2 -> rows[start + nl + rights before c ...],
 *                         gathering the inputs of the sides that need them
 *
 * Chunks depend on the node size only.  Returns the left count. */
typedef struct {
    fml_tree_grower *g;
    int32_t *rows;            /* the node's rows */
    int64_t start, count, n_chunks;
    const uint8_t *col;
    const double *y;
    uint8_t bin, mlb;
    int64_t *nl_chunk;        /* n_chunks + 1 */
    double (*lo)[PARTITION_MAX_CHUNKS], (*hi)[PARTITION_MAX_CHUNKS];
} part_job;

/* Pass 1 of chunk c: rows -> tmp (lefts) / tmp2 (rights) at the chunk's offsets. */
static void part_pass1(const part_job *jb, int64_t c)
{
    const int64_t j0 = fml_chunk_start(jb->count, jb->n_chunks, c);
    const int64_t j1 = fml_chunk_start(jb->count, jb->n_chunks, c + 1);
    const int32_t *restrict rows = jb->rows;
    int32_t *restrict tl = jb->g->rows_tmp, *restrict tr = jb->g->rows_tmp2;
    const uint8_t *restrict col = jb->col;
    const uint8_t b = jb->bin, mlb = jb->mlb;
    int64_t il = j0, ir = j0;
    for (int64_t j = j0; j < j1; j++) {
        const int32_t r = rows[j];
        const uint8_t v = col[r];
        const int64_t left = (v <= b) | ((v == FML_TREE_MISSING_BIN) & mlb);
        /* branch-free: store to both; the unused store lands at or below j in
         * this chunk's part of the other buffer and is overwritten or ignored */
        tl[il] = r;
        tr[ir] = r;
        il += left;
        ir += 1 - left;
    }
    jb->nl_chunk[c] = il - j0;
    double l0 = INFINITY, l1 = -INFINITY, r0 = INFINITY, r1 = -INFINITY;
    if (jb->y) {
        const double *restrict y = jb->y;
        for (int64_t j = j0; j < il; j++) {
            const double v = y[tl[j]];
            l0 = v < l0 ? v : l0;
            l1 = v > l1 ? v : l1;
        }
        for (int64_t j = j0; j < ir; j++) {
            const double v = y[tr[j]];
            r0 = v < r0 ? v : r0;
            r1 = v > r1 ? v : r1;
        }
    }
    jb->lo[0][c] = l0; jb->hi[0][c] = l1; jb->lo[1][c] = r0; jb->hi[1][c] = r1;
}

/* Pass 2 of chunk c: the chunk's lefts and rights to their final places, and the
 * inputs of the sides that need them gathered. */
static void part_pass2(const part_job *jb, int64_t c)
{
    fml_tree_grower *g = jb->g;
    const int64_t j0 = fml_chunk_start(jb->count, jb->n_chunks, c);
    const int64_t j1 = fml_chunk_start(jb->count, jb->n_chunks, c + 1);
    const int64_t *nlc_ = jb->nl_chunk, n_chunks = jb->n_chunks;
    const int64_t nlc = nlc_[c + 1] - nlc_[c], nrc = (j1 - j0) - nlc;
    const int64_t pl = nlc_[c], pr = nlc_[n_chunks] + (j0 - nlc_[c]);
    memcpy(jb->rows + pl, g->rows_tmp + j0, (size_t)nlc * sizeof(int32_t));
    memcpy(jb->rows + pr, g->rows_tmp2 + j0, (size_t)nrc * sizeof(int32_t));
    if (g->gather_side[0]) gather_range(g, jb->start + pl, jb->start + pl + nlc);
    if (g->gather_side[1]) gather_range(g, jb->start + pr, jb->start + pr + nrc);
}

/* Stable partition of the rows of node P (children L = P's left, R = L + 1,
 * created by the caller with their sums) by the split (f, bin, ml):
 *
 *   pass 1, per chunk c:  rows -> tmp  (chunk's lefts at tmp[j0..], rights at tmp2[j0..]),
 *                         counts and the y range of each side
 *   then (one thread):    prefix sums, child counts, decide_children()
 *   pass 2, per chunk c:  tmp -> rows[start + lefts before c ...],
 *                         tmp2 -> rows[start + nl + rights before c ...],
 *                         gathering the inputs of the sides that need them
 *
 * Chunks depend on the node size only.  Returns the left count. */
static int64_t partition(fml_tree_grower *g, int32_t P, int32_t L, int32_t f, int32_t bin, int32_t ml,
                         int parent_has_hist)
{
    const int32_t R = L + 1;
    const int64_t start = g->node_start[P], count = g->nodes[P].count;
    int64_t n_chunks = count / PARTITION_CHUNK;
    if (n_chunks < 1) n_chunks = 1;
    if (n_chunks > PARTITION_MAX_CHUNKS) n_chunks = PARTITION_MAX_CHUNKS;
    int64_t nl_chunk[PARTITION_MAX_CHUNKS + 1];
    double lo[2][PARTITION_MAX_CHUNKS], hi[2][PARTITION_MAX_CHUNKS];
    const part_job jb = {g, g->rows + start, start, count, n_chunks,
                         g->bins + (int64_t)f * g->n_samples, g->p->check_pure ? g->y_pure : NULL,
                         (uint8_t)bin, (uint8_t)(ml != 0), nl_chunk, lo, hi};
    const int nt = fml_threads_for(g->n_threads, n_chunks, (double)count, 16384.0);
    if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
        for (int64_t c = 0; c < n_chunks; c++) part_pass1(&jb, c);
    } else {
        for (int64_t c = 0; c < n_chunks; c++) part_pass1(&jb, c);
    }
    int64_t acc = 0;
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t v = nl_chunk[c];
        nl_chunk[c] = acc;
        acc += v;
    }
    nl_chunk[n_chunks] = acc;
    g->nodes[L].count = acc;
    g->nodes[R].count = count - acc;
    g->node_start[R] = start + acc;
    if (jb.y) {
        double mn[2] = {INFINITY, INFINITY}, mx[2] = {-INFINITY, -INFINITY};
        for (int64_t c = 0; c < n_chunks; c++)
            for (int s = 0; s < 2; s++) {
                if (lo[s][c] < mn[s]) mn[s] = lo[s][c];
                if (hi[s][c] > mx[s]) mx[s] = hi[s][c];
            }
        g->node_ymin[L] = mn[0]; g->node_ymax[L] = mx[0];
        g->node_ymin[R] = mn[1]; g->node_ymax[R] = mx[1];
    }
    if (acc > 0 && acc < count) decide_children(g, L, R, parent_has_hist);
    else g->gather_side[0] = g->gather_side[1] = 0;
    if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
        for (int64_t c = 0; c < n_chunks; c++) part_pass2(&jb, c);
    } else {
        for (int64_t c = 0; c < n_chunks; c++) part_pass2(&jb, c);
    }
    return acc;
}

/* Split a candidate; pushes the children's candidates.  FML_OK or an error. */
static int split_candidate(fml_tree_grower *g, cand_t cand, const double *cand_left)
{
    const int64_t C = g->C;
    const int32_t P = cand.node;
    const int64_t start = g->node_start[P], count = g->nodes[P].count;
    const int32_t depth = g->nodes[P].depth;
    int32_t pslot = cand.slot;
    const int L = node_new(g, depth + 1, start, 0);
    const int R = node_new(g, depth + 1, start, 0);
    if (L < 0 || R < 0) return FML_ENOMEM;
    double *sp = g->node_sum + (int64_t)P * C, *sl = g->node_sum + (int64_t)L * C,
           *sr = g->node_sum + (int64_t)R * C;
    for (int64_t c = 0; c < C; c++) {
        sl[c] = cand_left[c];
        sr[c] = sp[c] - cand_left[c];
    }
    const int64_t nl = partition(g, P, L, cand.feature, cand.bin, cand.missing_left, pslot >= 0);
    if (nl == 0 || nl == count) {     /* rounding let an empty side through: keep a leaf */
        g->n_nodes -= 2;
        if (pslot >= 0) slot_release(g, pslot);
        return FML_OK;
    }
    if (g->p->criterion == FML_TREE_XGB && g->p->hessian_is_count) {
        sl[1] = (double)nl;       /* exact counts: no drift from subtraction */
        sr[1] = (double)(count - nl);
    }
    fml_tree_node *pn = &g->nodes[P];
    pn->feature = cand.feature;
    pn->left = L;
    pn->bin = (uint8_t)cand.bin;
    /* no NaN here in training: NaN at prediction goes with the majority */
    pn->missing_left = (uint8_t)(cand.has_missing ? cand.missing_left : nl >= count - nl);
    pn->gain = cand.gain;
    pn->threshold = g->thresholds[(int64_t)cand.feature * NS + cand.bin];
    const int okL = g->ok_child[0], okR = g->ok_child[1];
    if (!okL && !okR) {
        if (pslot >= 0) slot_release(g, pslot);
        return FML_OK;
    }
    int32_t *fd = g->feat_draw;
    if (g->sampling || pslot < 0) {
        /* both children from their rows; with per-node draws nothing is kept */
        if (pslot >= 0) slot_release(g, pslot);
        const int32_t kids[2] = {L, R};
        const int ok[2] = {okL, okR};
        for (int i = 0; i < 2; i++) {
            if (!ok[i]) continue;
            const int64_t nf = draw_features(g, fd);
            const int32_t s = g->sampling ? -1 : slot_alloc(g);
            const int32_t use = s >= 0 ? s : i;      /* temporaries 0 and 1 */
            hist_scan(g, fd, nf, 1, &kids[i], &use, -1, 1, &kids[i], &use);
            const int r = push_best(g, 0, kids[i], fd, nf, s);
            if (r < 0) return FML_ENOMEM;
            if (r == 0 && s >= 0) slot_release(g, s);
        }
        return FML_OK;
    }
    const int64_t nf = draw_features(g, fd);
    const int32_t small = (nl <= count - nl) ? L : R, large = small == L ? R : L;
    const int ok_small = small == L ? okL : okR, ok_large = small == L ? okR : okL;
    const int32_t s_small = ok_small ? slot_alloc(g) : -1;
    const int32_t use_small = s_small >= 0 ? s_small : 0;
    int32_t scan_node[2], scan_slot[2];
    int n_scan = 0;
    if (ok_small) {
        scan_node[n_scan] = small;
        scan_slot[n_scan++] = use_small;
    }
    if (ok_large) {
        scan_node[n_scan] = large;
        scan_slot[n_scan++] = pslot;
    }
    hist_scan(g, fd, nf, 1, &small, &use_small, ok_large ? pslot : -1, n_scan, scan_node, scan_slot);
    int k = 0;
    if (ok_small) {
        const int r = push_best(g, k++, small, fd, nf, s_small);
        if (r < 0) return FML_ENOMEM;
        if (r == 0 && s_small >= 0) slot_release(g, s_small);
    }
    if (ok_large) {
        const int r = push_best(g, k++, large, fd, nf, pslot);
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
    if (n_rows > g->rows_cap || g->rows_tmp == NULL) {
        fml_scratch_free(g->rows_tmp);
        fml_scratch_free(g->rows_tmp2);
        fml_scratch_free(g->og);
        fml_scratch_free(g->oc);
        fml_scratch_free(g->ow);
        g->og = NULL;
        g->oc = NULL;
        g->ow = NULL;
        g->rows_cap = 0;
        g->rows_tmp = (int32_t *)fml_scratch_alloc((size_t)n_rows * sizeof(int32_t));
        g->rows_tmp2 = (int32_t *)fml_scratch_alloc((size_t)n_rows * sizeof(int32_t));
        if (g->rows_tmp == NULL || g->rows_tmp2 == NULL) return FML_ENOMEM;
        g->rows_cap = n_rows;
    }
    const size_t rc = (size_t)g->rows_cap;
    if (p->criterion == FML_TREE_XGB && g->og == NULL)
        g->og = (double *)fml_scratch_alloc(rc * 2 * sizeof(double));
    if (p->criterion != FML_TREE_XGB && g->oc == NULL)
        g->oc = (int32_t *)fml_scratch_alloc(rc * sizeof(int32_t));
    if (p->criterion != FML_TREE_XGB && g->w && g->ow == NULL)
        g->ow = (double *)fml_scratch_alloc(rc * sizeof(double));
    if ((p->criterion == FML_TREE_XGB && !g->og) || (p->criterion != FML_TREE_XGB && !g->oc) ||
        (p->criterion != FML_TREE_XGB && g->w && !g->ow))
        return FML_ENOMEM;
    const int64_t chunk_len = 16 * 8 * NS * C;   /* MAX_CHUNKS x ROW_PARALLEL_MAX_FEATURES */
    err |= ensure_aligned((void **)&g->chunk_scratch, &g->chunk_cap, chunk_len, sizeof(double), 0);
    const int64_t nt_max = g->n_threads;       /* scans index their scratch by thread id */
    err |= ensure_aligned((void **)&g->scan_scratch, &g->scan_cap, (int64_t)nt_max * FML_SCAN_SCRATCH(C),
                          sizeof(double), 0);
    err |= ensure_plain((void **)&g->feat_res, &g->feat_cap, 2 * nf, sizeof(fml_scan_result));
    int64_t fl_cap = g->feat_left_cap;
    err |= ensure_plain((void **)&g->feat_left, &fl_cap, 2 * nf * C, sizeof(double));
    g->feat_left_cap = fl_cap;
    void *fd = realloc(g->feat_draw, (size_t)(2 * nf + 1) * sizeof(int32_t));
    if (fd == NULL) return FML_ENOMEM;
    g->feat_draw = (int32_t *)fd;
    if (err) return FML_ENOMEM;
    return pool_reset(g, nf * NS * C);
}

/* The growth loop (on one thread; its parallel loops are task loops of the
 * team fml_tree_grow started, so a thread that is not scheduled is never
 * waited for: the others run its tasks). */
static int grow_body(fml_tree_grower *g, int64_t n_rows, int64_t n_samples, int32_t *rows,
                     const double *y_pure)
{
    const fml_tree_params *params = g->p;
    int err = FML_OK;
    const int root = node_new(g, 0, 0, n_rows);
    if (root < 0) return FML_ENOMEM;
    int32_t *fd = g->feat_draw;
    const int64_t nf = draw_features(g, fd);
    const int32_t s = slot_alloc(g);
    const int32_t use = s >= 0 ? s : 0;
    int identity = n_rows == n_samples;
    for (int64_t j = 0; identity && j < n_rows; j++) identity = rows[j] == j;
    if (!identity) {
        const int nt = fml_threads_for(g->n_threads, 64, (double)n_rows, 65536.0);
        if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
            for (int64_t c = 0; c < 64; c++)
                gather_range(g, fml_chunk_start(n_rows, 64, c), fml_chunk_start(n_rows, 64, c + 1));
        } else {
            gather_range(g, 0, n_rows);
        }
    }
    fml_hist_src src;
    node_src(g, root, identity, &src);
    fml_tree_hist_build(&src, fd, nf, slot_ptr(g, use), g->chunk_scratch, g->n_threads);
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
    if (splittable(g, root)) {
        const int32_t rn = root;
        hist_scan(g, fd, nf, 0, NULL, NULL, -1, 1, &rn, &use);
        r = push_best(g, 0, root, fd, nf, g->sampling ? -1 : s);
    }
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
    return FML_OK;
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
    g->n_threads = n_threads < 1 ? 1 : fml_threads_cap(n_threads);   /* 1 after fork */
    g->n_nodes = 0;
    g->n_cands = 0;
    g->sampling = params->max_features > 0 && params->max_features < n_active;
    fml_rng_seed(&g->rng, params->seed);
    if (n_rows <= 0 || n_active <= 0 || g->C < 1) return FML_EINVAL;   /* Python checks these */
    int err = setup(g, n_rows);
    if (err) return err;
    if (g->n_threads > 1) {
        int body_err = FML_OK;
#pragma omp parallel num_threads((int)g->n_threads)
#pragma omp single
        body_err = grow_body(g, n_rows, n_samples, rows, y_pure);
        err = body_err;
    } else {
        err = grow_body(g, n_rows, n_samples, rows, y_pure);
    }
    if (err) return err;
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
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
    {
        fml_tree_grower *g = fml_tree_grower_new();
        int32_t *rows = (int32_t *)fml_scratch_alloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof(int32_t));
        int32_t *counts = bootstrap ? (int32_t *)malloc((size_t)(n_samples > 0 ? n_samples : 1) * sizeof(int32_t)) : NULL;
        if (g == NULL || rows == NULL || (bootstrap && counts == NULL)) err |= FML_ENOMEM;
        const int mine_ok = err == FML_OK;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < n_trees; t++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (!mine_ok || err != FML_OK) continue;
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
