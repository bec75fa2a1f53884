#include "core/fml_scratch.h"

#include <stdint.h>
#include <stdlib.h>

void *fml_scratch_alloc(size_t bytes)
{
    if (bytes == 0) bytes = FML_ALIGN;
    if (bytes > (size_t)INT64_MAX) return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    return aligned_alloc(FML_ALIGN, (bytes + FML_ALIGN - 1) / FML_ALIGN * FML_ALIGN);
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
