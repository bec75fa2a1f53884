/* madvise / MADV_HUGEPAGE are outside strict C11 */
#define _DEFAULT_SOURCE 1

#include "core/fml_scratch.h"

#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Blocks from this size on are 2 MiB aligned and advised for transparent huge
 * pages (as NumPy does for its arrays): a packed 10000 x 128 operand faulted
 * in 4 KiB pages cost ~2500 page faults per call. */
#define FML_HUGE_MIN ((size_t)4 << 20)
#define FML_HUGE_ALIGN ((size_t)2 << 20)

void *fml_scratch_alloc(size_t bytes)
{
    if (bytes == 0) bytes = FML_ALIGN;
    if (bytes > (size_t)INT64_MAX - FML_HUGE_ALIGN) return NULL;
    if (bytes < FML_HUGE_MIN)   /* aligned_alloc wants a multiple of the alignment */
        return aligned_alloc(FML_ALIGN, (bytes + FML_ALIGN - 1) / FML_ALIGN * FML_ALIGN);
    const size_t len = (bytes + FML_HUGE_ALIGN - 1) / FML_HUGE_ALIGN * FML_HUGE_ALIGN;
    void *p = aligned_alloc(FML_HUGE_ALIGN, len);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p != NULL) (void)madvise(p, len, MADV_HUGEPAGE);   /* advice only: failure is fine */
#endif
    return p;
}

void fml_scratch_free(void *p) { free(p); }

size_t fml_mul_size(size_t n, size_t size, int *ok)
{
    if (size != 0 && n > SIZE_MAX / size) {
        *ok = 0;
        return 0;
    }
    return n * size;
}

/* Per-thread cache: one key whose value is an array of FML_SCRATCH_SLOTS buffers. */
typedef struct {
    void *ptr[FML_SCRATCH_SLOTS];
    size_t size[FML_SCRATCH_SLOTS];
} thread_cache;

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static int g_key_ok = 0;

static void cache_destroy(void *p)
{
    thread_cache *tc = (thread_cache *)p;
    for (int s = 0; s < FML_SCRATCH_SLOTS; s++) fml_scratch_free(tc->ptr[s]);
    free(tc);
}

static void key_init(void) { g_key_ok = pthread_key_create(&g_key, cache_destroy) == 0; }

void *fml_scratch_thread(int slot, size_t bytes)
{
    pthread_once(&g_key_once, key_init);
    if (!g_key_ok || slot < 0 || slot >= FML_SCRATCH_SLOTS) return NULL;
    thread_cache *tc = (thread_cache *)pthread_getspecific(g_key);
    if (tc == NULL) {
        tc = (thread_cache *)calloc(1, sizeof(thread_cache));
        if (tc == NULL) return NULL;
        if (pthread_setspecific(g_key, tc) != 0) {
            free(tc);
            return NULL;
        }
    }
    if (tc->size[slot] < bytes) {
        fml_scratch_free(tc->ptr[slot]);
        tc->ptr[slot] = fml_scratch_alloc(bytes);
        tc->size[slot] = tc->ptr[slot] ? bytes : 0;
    }
    return tc->ptr[slot];
}
