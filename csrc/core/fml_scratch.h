/* fml_scratch.h: aligned scratch memory for kernels (never user-visible). */
#ifndef FML_SCRATCH_H
#define FML_SCRATCH_H

#include <stddef.h>

#define FML_ALIGN 64

/* 64-byte aligned block of `bytes` (NULL on failure or on size overflow). */
void *fml_scratch_alloc(size_t bytes);
void fml_scratch_free(void *p);

/* A buffer of at least `bytes` owned by the calling thread, in one of
 * FML_SCRATCH_SLOTS slots; kept for reuse by later calls on this thread and
 * freed when the thread exits.  NULL on failure.  Two calls running at once on
 * different threads never share a buffer.  Slots 0-2 belong to the GEMM core
 * (packed A block 0, packed B block 1, fused-epilogue tile 2): a buffer a
 * kernel keeps across its own GEMM calls must live in slot 3 or 4.  Slot 5 is
 * for a buffer the calling thread holds for a whole call and shares with its
 * team (conv's Winograd stride-2 transforms: megabytes that would otherwise
 * be faulted in afresh on every call); never take it inside a parallel region. */
#define FML_SCRATCH_SLOTS 6
#define FML_SCRATCH_CALL_SLOT 5
void *fml_scratch_thread(int slot, size_t bytes);

/* n * size with overflow check: returns 0 (and sets *ok = 0) on overflow. */
size_t fml_mul_size(size_t n, size_t size, int *ok);

#endif
