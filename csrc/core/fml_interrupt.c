#define _GNU_SOURCE   /* syscall(SYS_gettid), sigaction under -std=c11 */
#include "core/fml_interrupt.h"

#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t g_count = 0;
static struct sigaction g_prev;
static int g_installed = 0;
static __thread int64_t t_armed = -1;      /* count when this thread's binding call began */

static void on_sigint(int sig, siginfo_t *info, void *ctx)
{
    g_count++;
    if (g_prev.sa_flags & SA_SIGINFO) {
        if (g_prev.sa_sigaction != NULL) g_prev.sa_sigaction(sig, info, ctx);
    } else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN && g_prev.sa_handler != NULL) {
        g_prev.sa_handler(sig);
    }
}

/* Chain in front of a handler function only: with SIG_DFL / SIG_IGN in place
 * (no Python handler) Ctrl-C keeps its default meaning. */
__attribute__((constructor)) static void install(void)
{
    struct sigaction prev, sa;
    if (sigaction(SIGINT, NULL, &prev) != 0) return;
    if (!(prev.sa_flags & SA_SIGINFO) && (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN))
        return;
    g_prev = prev;
    sa = prev;
    sa.sa_flags |= SA_SIGINFO;
    sa.sa_sigaction = on_sigint;
    g_installed = sigaction(SIGINT, &sa, NULL) == 0;
}

void fml_interrupt_arm(void) { t_armed = (int64_t)g_count; }

int64_t fml_interrupt_token(void)
{
    if (!g_installed || syscall(SYS_gettid) != getpid()) return -1;    /* main thread only */
    return t_armed >= 0 ? t_armed : (int64_t)g_count;
}

int fml_interrupted(int64_t token) { return token >= 0 && (int64_t)g_count != token; }
