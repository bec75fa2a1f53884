/* distance_amx.c: AMX-BF16 tiles for the knn candidate search (see distance_amx.h).
 *
 * The whole file is compiled for AVX-512 + AMX through the target pragma below
 * (setup.py's ISA flags cover avx2/avx512 only, so this ISA file sets its own),
 * and its functions are called only after fml_distance_amx_probe() returned 1:
 * CPUID AMX-TILE and AMX-BF16, the OS tile state in XCR0, and the Linux
 * permission for tile data (arch_prctl ARCH_REQ_XCOMP_PERM).
 *
 * A tile block is 32 rows x 32 columns: A0, A1 (tiles 4, 5) x B0, B1 (tiles 6, 7)
 * into C00 C01 C10 C11 (tiles 0-3), kp/32 steps of 16x16x32 bf16 products with
 * float32 sums, stored to a 4 KB buffer and scanned with AVX-512 against each
 * row's threshold while it is in L1.
 */
#define _GNU_SOURCE
#include "distance/distance_amx.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__linux__) && !defined(FML_NO_X86_SIMD)

#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,amx-tile,amx-bf16")
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
/* columns streamed per pass over a task's rows (128 KB of B at d = 128: L2) */
#define FML_AMX_CHUNK 512

typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config;

static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

int fml_distance_amx_probe(void)
{
    unsigned int a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid(1, a, b, c, d);
    if (!((c >> 27) & 1)) return 0;                            /* OSXSAVE */
    __cpuid_count(7, 0, a, b, c, d);
    if (!((d >> 22) & 1) || !((d >> 24) & 1)) return 0;        /* AMX-BF16, AMX-TILE */
    if ((xgetbv0() & (3ull << 17)) != (3ull << 17)) return 0;  /* XTILECFG, XTILEDATA */
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

/* Every tile: 16 rows of 64 bytes.  A static object, not a local: gcc 12 does
 * not see that ldtilecfg reads its operand and dropped the stores into a local. */
static const tile_config g_tile_config __attribute__((aligned(64))) = {
    1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0},
    {16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0}};

void fml_distance_amx_begin(void) { _tile_loadconfig(&g_tile_config); }

void fml_distance_amx_end(void) { _tile_release(); }

/* The hits of one row of a block: lanes `bits` of s (columns jb + lane). */
static void row_hits(const fml_amx_task *t, int64_t i, int64_t jb, __m512 s, unsigned bits)
{
    float sv[16];
    _mm512_storeu_ps(sv, s);
    const float *hv = t->cand.hv + i * t->cand.k;
    const float ri = t->r[i];
    while (bits && !t->cand.overflow[i]) {
        const int l = __builtin_ctz(bits);
        bits &= bits - 1;
        const int64_t j = jb + l;
        if (!(sv[l] <= hv[0] + ri)) continue;         /* the root moved since the compare */
        fml_cand_add(&t->cand, i, j, sv[l] - ri, sv[l] + t->w[j] + ri);
    }
}

static void scan_block(const fml_amx_task *t, int64_t ib, int64_t jb, const float *cb)
{
    const __m512 vs = _mm512_set1_ps(t->scale);
    const __m512 bl0 = _mm512_loadu_ps(t->bl + jb), bl1 = _mm512_loadu_ps(t->bl + jb + 16);
    const int64_t rows = FML_AMX_ROWS < t->m - ib ? FML_AMX_ROWS : t->m - ib;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = ib + r;
        if (t->cand.overflow[i]) continue;
        const __m512 thr = _mm512_set1_ps(t->cand.hv[i * t->cand.k] + t->r[i]);
        const __m512 s0 = _mm512_fmadd_ps(vs, _mm512_load_ps(cb + r * 32), bl0);
        const __m512 s1 = _mm512_fmadd_ps(vs, _mm512_load_ps(cb + r * 32 + 16), bl1);
        const unsigned m0 = _mm512_cmp_ps_mask(s0, thr, _CMP_LE_OQ);
        const unsigned m1 = _mm512_cmp_ps_mask(s1, thr, _CMP_LE_OQ);
        if (__builtin_expect((m0 | m1) != 0, 0)) {
            if (m0) row_hits(t, i, jb, s0, m0);
            if (m1) row_hits(t, i, jb + 16, s1, m1);
        }
    }
}

void fml_distance_amx_task(const fml_amx_task *t)
{
    const int64_t kp = t->kp, nkb = kp / 32, lda = kp * 2;
    float *cb = t->cbuf;
    for (int64_t jc = t->j0; jc < t->j1; jc += FML_AMX_CHUNK) {   /* B chunk stays in L2 */
        const int64_t jc1 = jc + FML_AMX_CHUNK < t->j1 ? jc + FML_AMX_CHUNK : t->j1;
        for (int64_t ib = t->i0; ib < t->i0 + t->mb; ib += FML_AMX_ROWS) {
            const uint16_t *a0 = t->apack + ib * kp, *a1 = a0 + 16 * kp;
            for (int64_t jb = jc; jb < jc1; jb += FML_AMX_COLS) {
                const uint16_t *b0 = t->bpack + (jb / 16) * kp * 16, *b1 = b0 + kp * 16;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int64_t kb = 0; kb < nkb; kb++) {
                    _tile_loadd(4, a0 + kb * 32, lda);
                    _tile_loadd(5, a1 + kb * 32, lda);
                    _tile_loadd(6, b0 + kb * 512, 64);
                    _tile_loadd(7, b1 + kb * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                _tile_stored(0, cb, 128);
                _tile_stored(1, cb + 16, 128);
                _tile_stored(2, cb + 512, 128);
                _tile_stored(3, cb + 528, 128);
                scan_block(t, ib, jb, cb);
            }
        }
    }
}

#else   /* no AMX on this platform or build */

int fml_distance_amx_probe(void) { return 0; }
void fml_distance_amx_begin(void) {}
void fml_distance_amx_end(void) {}
void fml_distance_amx_task(const fml_amx_task *t) { (void)t; }

#endif
