/* fml_prefetch.h: a software prefetch spread over the calls of a loop.
 *
 * The packed GEMM paths that read a pre-packed A (k-means' X, the distance
 * kernels' rows) stream each task's A block from memory on its first column
 * panel; the hardware prefetcher does not run ahead across tasks, and the
 * micro-kernel waits (measured: 56-row tasks of a 64-deep A, 169 -> 188 GFLOP/s
 * with the next block prefetched to L2).  A stream issues a few cache lines of
 * the next block before each micro-kernel call, so the fetch overlaps compute. */
#ifndef FML_PREFETCH_H
#define FML_PREFETCH_H

#include <stdint.h>

typedef struct {
    const char *p;         /* next line to fetch */
    const char *end;
    int64_t per_step;      /* lines per step */
} fml_prefetch_stream;

/* [p, p + bytes) in `steps` steps (an empty stream when p is NULL). */
static inline fml_prefetch_stream fml_prefetch_begin(const void *p, int64_t bytes, int64_t steps)
{
    fml_prefetch_stream s = {(const char *)p, (const char *)p, 0};
    if (p == NULL || bytes <= 0) return s;
    const int64_t lines = (bytes + 63) / 64;
    s.end = s.p + bytes;
    s.per_step = (lines + (steps > 0 ? steps : 1) - 1) / (steps > 0 ? steps : 1);
    return s;
}

static inline void fml_prefetch_step(fml_prefetch_stream *s)
{
    if (s == NULL) return;
    for (int64_t l = 0; l < s->per_step && s->p < s->end; l++, s->p += 64)
        __builtin_prefetch(s->p, 0, 1);               /* to L2: read by the next task */
}

#endif
