/* arena.h — a bump allocator freed all at once.
 *
 * One arena per query request (STYLE.md §6): the HTTP layer creates it, the
 * handler and everything it calls allocate from it, and the request-completed
 * callback destroys it. Nothing is freed one by one. Not thread-safe. */
#ifndef SCRY_CORE_ARENA_H
#define SCRY_CORE_ARENA_H

#include <stddef.h>

struct scry_arena;

/* block_bytes: size of each block (0 → 64 KiB). Aborts on OOM like mem.h. */
struct scry_arena *scry_arena_create(size_t block_bytes);
void scry_arena_destroy(struct scry_arena *a); /* NULL is a no-op */
/* Frees all but the first block and rewinds; for reuse across requests. */
void scry_arena_reset(struct scry_arena *a);

/* Memory aligned to max_align_t, uninitialised / zeroed. */
void *scry_arena_alloc(struct scry_arena *a, size_t len);
void *scry_arena_calloc(struct scry_arena *a, size_t n, size_t len);
char *scry_arena_strndup(struct scry_arena *a, const char *s, size_t len);
char *scry_arena_strdup(struct scry_arena *a, const char *s);
char *scry_arena_printf(struct scry_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Total bytes handed out since create/reset (for limits and self-metrics). */
size_t scry_arena_used(const struct scry_arena *a);

#endif
