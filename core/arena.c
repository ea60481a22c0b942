/* arena.c — blocks chained newest-first; an allocation larger than a quarter
 * block gets a block of its own so it does not waste the tail of the current
 * one. */
#include "core/arena.h"
#include "core/mem.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t cap, used;
    alignas(max_align_t) char data[];
};

struct scry_arena {
    struct block *head;
    size_t block_bytes;
    size_t total;
};

#define ALIGN (alignof(max_align_t))

static struct block *block_new(size_t cap)
{
    struct block *b = scry_malloc(sizeof *b + cap);
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

struct scry_arena *scry_arena_create(size_t block_bytes)
{
    struct scry_arena *a = scry_calloc(1, sizeof *a);
    a->block_bytes = block_bytes ? block_bytes : 64 * 1024;
    a->head = block_new(a->block_bytes);
    return a;
}

void scry_arena_destroy(struct scry_arena *a)
{
    if (!a)
        return;
    for (struct block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void scry_arena_reset(struct scry_arena *a)
{
    struct block *b = a->head, *keep = NULL;
    while (b) {
        struct block *n = b->next;
        if (!n && b->cap == a->block_bytes)
            keep = b; /* the oldest block is the standard-size first one */
        else
            free(b);
        b = n;
    }
    a->head = keep ? keep : block_new(a->block_bytes);
    a->head->used = 0;
    a->head->next = NULL;
    a->total = 0;
}

void *scry_arena_alloc(struct scry_arena *a, size_t len)
{
    size_t need = (len + ALIGN - 1) & ~(ALIGN - 1);
    if (need == 0)
        need = ALIGN;
    struct block *b = a->head;
    if (b->cap - b->used < need) {
        if (need > a->block_bytes / 4) {
            /* Big allocation: its own block, linked behind the current head
             * so the head keeps serving small allocations. */
            struct block *big = block_new(need);
            big->used = need;
            big->next = b->next;
            b->next = big;
            a->total += need;
            return big->data;
        }
        b = block_new(a->block_bytes);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->total += need;
    return p;
}

void *scry_arena_calloc(struct scry_arena *a, size_t n, size_t len)
{
    if (len && n > SIZE_MAX / len)
        scry_panic("arena calloc overflow", __FILE__, __LINE__);
    void *p = scry_arena_alloc(a, n * len);
    memset(p, 0, n * len);
    return p;
}

char *scry_arena_strndup(struct scry_arena *a, const char *s, size_t len)
{
    char *d = scry_arena_alloc(a, len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

char *scry_arena_strdup(struct scry_arena *a, const char *s)
{
    return scry_arena_strndup(a, s, strlen(s));
}

char *scry_arena_printf(struct scry_arena *a, const char *fmt, ...)
{
    /* UBSan's nonnull check on vsnprintf leaves a path with fmt == NULL
     * that GCC's -Wformat-truncation then reports; close it first. */
    if (!fmt)
        return scry_arena_strdup(a, "");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = scry_arena_alloc(a, (size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    return d;
}

size_t scry_arena_used(const struct scry_arena *a) { return a->total; }
