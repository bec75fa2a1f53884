/* fml_threads.h: the one OpenMP team and deterministic chunking.
 *
 * Kernels never ask OpenMP for its default: the Python layer resolves the
 * thread count (fastml.set_num_threads / n_threads= / threadpoolctl limits) and
 * passes it down.  Work is cut into chunks whose boundaries depend only on the
 * problem, never on the thread count, so results are bit-identical for any
 * number of threads. */
#ifndef FML_THREADS_H
#define FML_THREADS_H

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Index of the calling thread in the current team (0 outside a team). */
static inline int fml_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* First index of chunk c when [0, n) is cut into n_chunks near-equal chunks. */
static inline int64_t fml_chunk_start(int64_t n, int64_t n_chunks, int64_t c)
{
    return (n / n_chunks) * c + (c < n % n_chunks ? c : n % n_chunks);
}

/* n_threads as asked, or 1 in a child process forked after OpenMP was used:
 * libgomp's thread pool does not survive fork(), and a team started in the
 * child would wait forever for threads that do not exist. */
int64_t fml_threads_cap(int64_t n_threads);

/* 1 in a child created by fork() after this module was loaded. */
int fml_threads_forked(void);

/* Threads to use for `work` units of tasks when `n_threads` were asked: never more
 * than tasks, and 1 below `min_work_per_thread` each (small problems stay serial);
 * capped by fml_threads_cap. */
int fml_threads_for(int64_t n_threads, int64_t n_tasks, double work, double min_work_per_thread);

/* OpenMP runtime facts for show_config / threadpoolctl. */
int fml_threads_openmp_enabled(void);
int fml_threads_omp_max(void);
void fml_threads_omp_set(int n);

#endif
