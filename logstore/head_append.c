/* head_append.c — the appender (core/appender.h, append_log). Entries are
 * checked for order against the stream and this appender's own pending
 * entries, encoded straight into the WAL ENTRIES payload of their stream,
 * and applied to the head at commit under the store lock; the WAL commit
 * (fsync by policy) runs after the lock is released (group commit). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

/* Room in front of a pending body for the ENTRIES record's header (uvarint
 * ref, varint base_t, uvarint n: at most 10 bytes each), so commit hands
 * the WAL the record in place: building it in a fresh buffer copied each
 * ~1 MB push body once more, into memory the kernel had to fault in. */
#define REC_HDR_MAX 30

struct pending {
    struct ls_stream *s;           /* as of append; re-resolved at commit */
    uint64_t ref;
    struct scry_labels ls;         /* in the appender's arena */
    struct scry_buf body;          /* REC_HDR_MAX bytes of room, then the entries,
                                    * prev_t chained from base_t */
    int64_t base_t;
    uint32_t n;
    bool has_last;
    int64_t last_t;
    size_t last_off;               /* the newest line: body.p + last_off */
    size_t last_len;
};

struct ls_appender {
    struct scry_appender base;
    struct ls_store *st;
    struct scry_arena *a;
    struct pending *v;
    size_t n, cap;
};

static struct pending *pending_for(struct ls_appender *app, uint64_t ref)
{
    for (size_t i = app->n; i-- > 0;)
        if (app->v[i].ref == ref)
            return &app->v[i];
    return NULL;
}

static int append_log(struct scry_appender *base, uint64_t *ref, const struct scry_labels *stream,
                      const struct scry_log_entry *e, struct scry_err *err)
{
    struct ls_appender *app = (struct ls_appender *)base;
    struct ls_store *st = app->st;
    if (!stream || stream->n == 0)
        return scry_err_set(err, SCRY_EINVAL, "a log stream needs at least one label");
    if (e->line.len > LS_CHUNK_RAW_MAX / 2)
        return scry_err_set(err, SCRY_ELIMIT, "log line of %zu bytes", e->line.len);
    pthread_mutex_lock(&st->mu);
    struct ls_stream *s = (ref && *ref) ? ls__head_by_ref(&st->head, *ref) : NULL;
    if (s && !scry_labels_equal(&s->ls, stream))
        s = NULL;
    if (!s) {
        uint64_t h = scry_labels_hash(stream);
        s = ls__head_get(&st->head, stream, h);
        if (!s) {
            int rc = scry_labels_validate(stream, err);
            if (rc) {
                pthread_mutex_unlock(&st->mu);
                return rc;
            }
            s = ls__head_create(&st->head, stream, 0);
            struct scry_buf b = { 0 };
            ls__wal_put_stream(&b, s);
            rc = st->wal ? scry_wal_append(st->wal, LS_WAL_STREAM, b.p, b.len, err) : 0;
            scry_buf_fini(&b);
            if (rc) {
                pthread_mutex_unlock(&st->mu);
                return rc;
            }
        }
    }
    struct pending *p = pending_for(app, s->ref);
    int rc = p && p->has_last
                 ? ls__order_check(true, p->last_t, p->body.p + p->last_off, 0, p->last_len, e)
                 : ls__order_check(s->has_last, s->last_t,
                                   s->open_n ? s->open.p + s->last_line_off : NULL,
                                   s->last_line_hash, s->last_line_len, e);
    uint64_t sref = s->ref;
    const struct scry_labels sls = s->ls;
    if (!p && rc == 0) {
        if (app->n == app->cap) {
            app->cap = app->cap ? app->cap * 2 : 8;
            app->v = scry_realloc(app->v, app->cap * sizeof *app->v);
        }
        p = &app->v[app->n++];
        memset(p, 0, sizeof *p);
        p->ref = sref;
        struct scry_label *v = scry_arena_alloc(app->a, sls.n * sizeof *v);
        for (size_t i = 0; i < sls.n; i++) {
            v[i].name = scry_arena_strdup(app->a, sls.v[i].name);
            v[i].value = scry_arena_strdup(app->a, sls.v[i].value);
        }
        p->ls = (struct scry_labels){ v, sls.n };
        p->base_t = e->t_ns;
        scry_buf_reserve(&p->body, REC_HDR_MAX + e->line.len + 64);
        memset(p->body.p, 0, REC_HDR_MAX);
        p->body.len = REC_HDR_MAX;
    }
    pthread_mutex_unlock(&st->mu);
    if (ref)
        *ref = sref;
    if (rc == 1)
        return 0; /* duplicate: ignored */
    if (rc < 0)
        return scry_err_set(err, SCRY_EINVAL, "entry out of order: t_ns %lld is older than the "
                            "stream's newest entry", (long long)e->t_ns);
    int64_t prev = p->n ? p->last_t : p->base_t;
    p->last_off = p->body.len + ls__uvarint_len((uint64_t)e->t_ns - (uint64_t)prev) +
                  ls__uvarint_len(e->line.len);
    ls__entry_put(&p->body, prev, e);
    p->n++;
    p->has_last = true;
    p->last_t = e->t_ns;
    p->last_len = e->line.len;
    return 0;
}

static void app_free(struct ls_appender *app)
{
    for (size_t i = 0; i < app->n; i++)
        scry_buf_fini(&app->v[i].body);
    free(app->v);
    scry_arena_destroy(app->a);
    free(app);
}

/* Applies one pending stream under the lock: WAL record, then the head. */
static int apply(struct ls_store *st, struct pending *p, struct scry_err *err)
{
    struct ls_stream *s = ls__head_by_ref(&st->head, p->ref);
    if (!s) { /* the head was flushed since append: the stream comes back */
        s = ls__head_get(&st->head, &p->ls, scry_labels_hash(&p->ls));
        if (!s) {
            s = ls__head_create(&st->head, &p->ls, 0);
            struct scry_buf b = { 0 };
            ls__wal_put_stream(&b, s);
            int rc = st->wal ? scry_wal_append(st->wal, LS_WAL_STREAM, b.p, b.len, err) : 0;
            scry_buf_fini(&b);
            if (rc)
                return rc;
        }
    }
    assert(p->body.len >= REC_HDR_MAX);
    uint8_t hdr[REC_HDR_MAX + 1];
    struct scry_buf hb = { .p = (char *)hdr, .cap = sizeof hdr }; /* never grows: <= 30 */
    ls__put_uvarint(&hb, s->ref);
    ls__put_varint(&hb, p->base_t);
    ls__put_uvarint(&hb, p->n);
    assert(hb.len <= REC_HDR_MAX && hb.p == (char *)hdr);
    char *rec = p->body.p + REC_HDR_MAX - hb.len;
    memcpy(rec, hdr, hb.len);
    int rc = st->wal ? scry_wal_append(st->wal, LS_WAL_ENTRIES, rec,
                                       p->body.len - REC_HDR_MAX + hb.len, err)
                     : 0;
    if (rc)
        return rc;
    struct ls_rd r = { (const uint8_t *)p->body.p + REC_HDR_MAX,
                       (const uint8_t *)p->body.p + p->body.len, 0 };
    int64_t prev = p->base_t;
    /* Structured metadata is decoded into scratch (without an arena the
     * codec skips it) and re-encoded into the open chunk. */
    struct scry_arena *md = scry_arena_create(4096);
    for (uint32_t i = 0; i < p->n; i++) {
        struct scry_log_entry e;
        scry_arena_reset(md);
        SCRY_ASSERT(ls__entry_get(&r, prev, md, &e)); /* our own bytes */
        prev = e.t_ns;
        /* A concurrent appender may have moved the stream on: drop, count. */
        if (ls__head_append(&st->head, s, &e) < 0)
            st->dropped_out_of_order++;
    }
    scry_arena_destroy(md);
    return 0;
}

static int commit(struct scry_appender *base, struct scry_err *err)
{
    struct ls_appender *app = (struct ls_appender *)base;
    struct ls_store *st = app->st;
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < app->n && rc == 0; i++)
        if (app->v[i].n)
            rc = apply(st, &app->v[i], err);
    pthread_mutex_unlock(&st->mu);
    if (rc == 0 && st->wal && app->n)
        rc = scry_wal_commit(st->wal, err);
    app_free(app);
    return rc;
}

static void rollback(struct scry_appender *base) { app_free((struct ls_appender *)base); }

static const struct scry_appender_ops ls_appender_ops = {
    .append_log = append_log,
    .commit = commit,
    .rollback = rollback,
};

int ls__appender_begin(struct scry_appendable *s, const char *tenant, struct scry_appender **out,
                       struct scry_err *err)
{
    (void)tenant;
    (void)err;
    struct ls_appender *app = scry_calloc(1, sizeof *app);
    app->base.ops = &ls_appender_ops;
    app->st = (struct ls_store *)s;
    app->a = scry_arena_create(4096);
    *out = &app->base;
    return 0;
}
