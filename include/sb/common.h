/* common.h -- small macros every module uses.
 *
 * Kept deliberately tiny: anything with behaviour lives in its own module.
 */
#ifndef SB_COMMON_H
#define SB_COMMON_H

#include <stddef.h>

#define SB_UNUSED(x) ((void) (x))
#define SB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SB_CONTAINER_OF(ptr, type, field) \
  ((type *) ((char *) (ptr) - offsetof(type, field)))

#if defined(__GNUC__)
#define SB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define SB_NODISCARD __attribute__((warn_unused_result))
#else
#define SB_PRINTF(fmt, args)
#define SB_NODISCARD
#endif

/* The field manager and the managed-by label value of everything we write. */
#define SB_MANAGER "smi-bridge"

#endif
