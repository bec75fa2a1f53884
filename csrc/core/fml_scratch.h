/* fml_scratch.h: aligned scratch memory for kernels (never user-visible). */
#ifndef FML_SCRATCH_H
#define FML_SCRATCH_H

#include <stddef.h>

#define FML_ALIGN 64

/* 64-byte aligned block of `bytes` (NULL on failure or on size overflow). */
void *fml_scratch_alloc(size_t bytes);
void fml_scratch_free(void *p);

/* n * size with overflow check: returns 0 (and sets *ok = 0) on overflow. */
size_t fml_mul_size(size_t n, size_t size, int *ok);

#endif
