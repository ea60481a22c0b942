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

/* ---- the columnar payload of segment chunks (FORMAT.md "Chunk", codec 3) ---- */

void ls__cols_add(struct ls_cols *c, int64_t prev_t, const struct scry_log_entry *e)
{
    assert(e->t_ns >= prev_t);
    ls__put_uvarint(&c->dts, (uint64_t)e->t_ns - (uint64_t)prev_t);
    ls__put_uvarint(&c->lens, e->line.len);
    ls__put_uvarint(&c->md, e->metadata.n);
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        ls__put_str(&c->md, l->name, strlen(l->name));
        ls__put_str(&c->md, l->value, strlen(l->value));
    }
    scry_buf_put(&c->lines, e->line.p, e->line.len);
}

void ls__cols_finish(struct ls_cols *c, struct scry_buf *out)
{
    scry_buf_put(out, c->dts.p, c->dts.len);
    scry_buf_put(out, c->lens.p, c->lens.len);
    scry_buf_put(out, c->md.p, c->md.len);
    scry_buf_put(out, c->lines.p, c->lines.len);
    scry_buf_reset(&c->dts);
    scry_buf_reset(&c->lens);
    scry_buf_reset(&c->md);
    scry_buf_reset(&c->lines);
}

void ls__cols_fini(struct ls_cols *c)
{
    scry_buf_fini(&c->dts);
    scry_buf_fini(&c->lens);
    scry_buf_fini(&c->md);
    scry_buf_fini(&c->lines);
}

bool ls__cols_get(const uint8_t *p, size_t len, uint32_t n, int64_t mint, struct scry_arena *a,
                  struct scry_log_entry *out)
{
    struct ls_rd r = { p, p + len, false };
    int64_t t = mint;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t dt = ls__rd_uvarint(&r);
        if (dt > (uint64_t)INT64_MAX - (uint64_t)(t < 0 ? 0 : t))
            return false;
        t = (int64_t)((uint64_t)t + dt);
        out[i].t_ns = t;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        out[i].line.len = ls__rd_uvarint(&r);
        total += out[i].line.len;
        if (total > len)
            return false;
    }
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        uint64_t m = ls__rd_uvarint(&r);
        if (r.bad || m > (uint64_t)(r.end - r.p) / 2)
            return false;
        struct scry_label *v = (a && m) ? scry_arena_alloc(a, m * sizeof *v) : NULL;
        for (uint64_t k = 0; k < m; k++) {
            struct scry_str nm = ls__rd_str(&r), val = ls__rd_str(&r);
            if (r.bad || nm.len == 0)
                return false;
            if (v) {
                v[k].name = scry_arena_strndup(a, nm.p, nm.len);
                v[k].value = scry_arena_strndup(a, val.p, val.len);
            }
        }
        out[i].metadata = (struct scry_labels){ v, v ? m : 0 };
    }
    if (r.bad || total != (uint64_t)(r.end - r.p))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        out[i].line.p = (const char *)r.p;
        r.p += out[i].line.len;
    }
    return true;
}
