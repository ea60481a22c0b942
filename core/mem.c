/* mem.c — aborting allocation wrappers (see mem.h for why they abort). */
#include "core/mem.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void scry_panic(const char *what, const char *file, int line)
{
    fprintf(stderr, "scry: fatal: %s at %s:%d\n", what, file, line);
    fflush(stderr);
    abort();
}

static void *check(void *p, size_t len)
{
    if (!p && len) {
        fprintf(stderr, "scry: fatal: out of memory allocating %zu bytes\n", len);
        abort();
    }
    return p;
}

void *scry_malloc(size_t len) { return check(malloc(len ? len : 1), len); }
void *scry_calloc(size_t n, size_t len) { return check(calloc(n ? n : 1, len ? len : 1), n * len); }
void *scry_realloc(void *p, size_t len) { return check(realloc(p, len ? len : 1), len); }

char *scry_strndup(const char *s, size_t len)
{
    char *d = scry_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

char *scry_strdup(const char *s) { return scry_strndup(s, strlen(s)); }

/* glibc's defaults hand memory back quickly: blocks of 128 KiB and more are
 * mmap'ed and unmapped one by one, and a heap whose free top passes 128 KiB
 * is trimmed. Every request then faults its buffers (query scratch, push
 * bodies, decompressed pages) in afresh, page by page, and each munmap
 * flushes the TLBs of the other cores. On our 2-vCPU KVM test machine a
 * fault costs tens of microseconds: a small range query took 2.8 ms of
 * server CPU with 30 faults, 2.2 ms with 3 (perf stat over 150 requests).
 * Freed memory now stays with the allocator: blocks under 32 MiB (glibc's
 * ceiling for this knob) come from the heaps, and a heap keeps up to
 * 64 MiB of free top. Peak RSS is unchanged (a request's peak is its own);
 * RSS between requests stays at the largest recent working set, as in a
 * garbage-collected server.
 *
 * That holds for one heap. glibc gives threads their own heaps ("arenas",
 * up to 8 per core), and each keeps what it freed, so a request whose
 * memory passes through two threads (read on libmicrohttpd's, answered on
 * a worker, core/http_workers.c) held its peak twice: the 10k-series peer
 * benchmark's query phase peaked at 167 MiB instead of 75. One arena for
 * the process: our hot paths allocate from per-request arenas in large
 * blocks, so the lock is rarely contended. */
void scry_mem_keep_freed(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_ARENA_MAX, 1);
}
