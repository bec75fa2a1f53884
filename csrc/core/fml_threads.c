#include "core/fml_threads.h"

#include <pthread.h>

/* Set in the child of every fork(): registered when the extension is loaded
 * (each extension module has its own copy of this file, and registers it). */
static volatile int g_forked = 0;

static void on_fork_child(void) { g_forked = 1; }

__attribute__((constructor)) static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

int fml_threads_forked(void) { return g_forked; }

int64_t fml_threads_cap(int64_t n_threads) { return g_forked ? 1 : n_threads; }

int fml_threads_for(int64_t n_threads, int64_t n_tasks, double work, double min_work_per_thread)
{
#ifdef _OPENMP
    int64_t nt = n_threads < 1 ? 1 : fml_threads_cap(n_threads);
    if (nt > n_tasks) nt = n_tasks;
    if (min_work_per_thread > 0) {
        const double by_work = work / min_work_per_thread;
        if ((double)nt > by_work) nt = by_work < 1.0 ? 1 : (int64_t)by_work;
    }
    return nt < 1 ? 1 : (int)nt;
#else
    (void)n_threads; (void)n_tasks; (void)work; (void)min_work_per_thread;
    return 1;
#endif
}

int fml_threads_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fml_threads_omp_max(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void fml_threads_omp_set(int n)
{
#ifdef _OPENMP
    if (n >= 1) omp_set_num_threads(n);
#else
    (void)n;
#endif
}
