/* mem.h — allocation wrappers for small internal allocations.
 *
 * These abort the process with a message when memory runs out, so the
 * thousands of small allocations in scry need no error path (redis zmalloc,
 * h2o "dies if impossible"). Sizes that come from input — request bodies,
 * decompressed chunks, result sets — must be checked against a limit first
 * and fail with SCRY_ELIMIT instead; never pass them here unchecked. */
#ifndef SCRY_CORE_MEM_H
#define SCRY_CORE_MEM_H

#include <stddef.h>

void *scry_malloc(size_t len);
void *scry_calloc(size_t n, size_t len);
void *scry_realloc(void *p, size_t len);
char *scry_strdup(const char *s);
char *scry_strndup(const char *s, size_t len);

/* For the long-running roles (server, agent): keep freed memory in the
 * allocator instead of giving it back to the kernel after each request.
 * Called once at startup, before any thread exists. See mem.c for why. */
void scry_mem_keep_freed(void);

/* Prints "scry: fatal: <what> at file:line" to stderr and aborts. For broken
 * invariants that mean memory is already corrupt; stays on in release builds. */
_Noreturn void scry_panic(const char *what, const char *file, int line);
#define SCRY_ASSERT(cond) \
    do { if (!(cond)) scry_panic("assertion failed: " #cond, __FILE__, __LINE__); } while (0)

#endif
