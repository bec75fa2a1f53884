/* fml_interrupt.h: Ctrl-C for long kernels.
 *
 * When an extension is loaded, a SIGINT handler is chained in front of the
 * one in place (Python's): it counts the signal, then calls the previous
 * handler, so Python still raises KeyboardInterrupt as usual.  A long kernel
 * takes a token before its parallel region and every task polls it (one
 * volatile load); once a SIGINT has arrived since the token, the tasks stop and
 * the kernel returns FML_EINTR, which the binding turns into the pending
 * KeyboardInterrupt.  Outputs are unspecified after an interrupt.
 *
 * The bindings call fml_interrupt_arm() just before releasing the GIL: the
 * token is the count at that moment, so a SIGINT during any phase of the call
 * (even before the first polled loop) stops it.
 *
 * Only calls from the process's main thread are interruptible (Python runs
 * signal handlers there); elsewhere the token is -1 and polls are false.  If
 * Python code replaces the SIGINT handler later (signal.signal), the chain is
 * gone and kernels simply run to the end, as before. */
#ifndef FML_INTERRUPT_H
#define FML_INTERRUPT_H

#include <stdint.h>

void fml_interrupt_arm(void);
int64_t fml_interrupt_token(void);
int fml_interrupted(int64_t token);

#endif
