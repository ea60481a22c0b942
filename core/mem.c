/* mem.c — aborting allocation wrappers (see mem.h for why they abort). */
#include "core/mem.h"

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
