/* fml_status.h: status codes returned by every fastml C entry point.
 *
 * Codes are bit flags so that failures recorded inside an OpenMP region can be
 * combined with a |-reduction and returned after it (no code is ever lost). */
#ifndef FML_STATUS_H
#define FML_STATUS_H

#define FML_OK 0
#define FML_ENOMEM 1     /* a scratch allocation failed -> MemoryError */
#define FML_EINVAL 2     /* an argument the Python layer should have rejected -> ValueError */
#define FML_EINTERNAL 4  /* a broken invariant -> RuntimeError */
#define FML_EINTR 8      /* stopped by Ctrl-C (fml_interrupt.h) -> KeyboardInterrupt */

#endif
