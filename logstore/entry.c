/* entry.c — the entry codec of FORMAT.md "Entry", shared by chunk payloads
 * and WAL ENTRIES records so that a WAL record's bytes and a chunk's raw
 * payload are decoded by one function. */
#include <assert.h>

#include "core/appender.h"
#include "core/arena.h"
#include "logstore/format.h"

void ls__entry_put(struct scry_buf *b, int64_t prev_t, const struct scry_log_entry *e)
{
    assert(e->t_ns >= prev_t);
    ls__put_uvarint(b, (uint64_t)e->t_ns - (uint64_t)prev_t);
    ls__put_str(b, e->line.p, e->line.len);
    ls__put_uvarint(b, e->metadata.n);
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        ls__put_str(b, l->name, strlen(l->name));
        ls__put_str(b, l->value, strlen(l->value));
    }
}

/* Metadata strings are NUL-terminated copies in a: labels want C strings. */
bool ls__entry_get(struct ls_rd *r, int64_t prev_t, struct scry_arena *a,
                   struct scry_log_entry *e)
{
    uint64_t dt = ls__rd_uvarint(r);
    if (dt > (uint64_t)INT64_MAX - (uint64_t)(prev_t < 0 ? 0 : prev_t))
        r->bad = true;
    e->t_ns = (int64_t)((uint64_t)prev_t + dt);
    e->line = ls__rd_str(r);
    uint64_t n = ls__rd_uvarint(r);
    if (r->bad || n > (uint64_t)(r->end - r->p) / 2) {
        r->bad = true;
        return false;
    }
    struct scry_label *v = (a && n) ? scry_arena_alloc(a, n * sizeof *v) : NULL;
    for (uint64_t i = 0; i < n; i++) {
        struct scry_str k = ls__rd_str(r), val = ls__rd_str(r);
        if (r->bad || k.len == 0) {
            r->bad = true;
            return false;
        }
        if (v) {
            v[i].name = scry_arena_strndup(a, k.p, k.len);
            v[i].value = scry_arena_strndup(a, val.p, val.len);
        }
    }
    e->metadata = (struct scry_labels){ v, v ? n : 0 };
    return !r->bad;
}
