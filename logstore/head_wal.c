/* head_wal.c — the log store's WAL records (FORMAT.md "WAL records") and
 * their replay into the head. Framing, CRCs, torn tails: core/wal.h. */
#include <assert.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

void ls__wal_put_stream(struct scry_buf *b, const struct ls_stream *s)
{
    ls__put_uvarint(b, s->ref);
    ls__put_uvarint(b, s->ls.n);
    for (size_t i = 0; i < s->ls.n; i++) {
        ls__put_str(b, s->ls.v[i].name, strlen(s->ls.v[i].name));
        ls__put_str(b, s->ls.v[i].value, strlen(s->ls.v[i].value));
    }
}

struct replay {
    struct ls_store *st;
    struct scry_arena *a;
    uint64_t skipped;
};

static int on_stream(struct replay *rp, struct ls_rd *r)
{
    uint64_t ref = ls__rd_uvarint(r), n = ls__rd_uvarint(r);
    if (r->bad || ref == 0 || n == 0 || n > (uint64_t)(r->end - r->p))
        return SCRY_ECORRUPT;
    scry_arena_reset(rp->a);
    struct scry_label *v = scry_arena_alloc(rp->a, n * sizeof *v);
    for (uint64_t i = 0; i < n; i++) {
        struct scry_str k = ls__rd_str(r), val = ls__rd_str(r);
        v[i].name = scry_arena_strndup(rp->a, k.p, k.len);
        v[i].value = scry_arena_strndup(rp->a, val.p, val.len);
    }
    struct scry_labels ls = { v, n };
    if (r->bad || scry_labels_validate(&ls, NULL) != 0)
        return SCRY_ECORRUPT;
    struct ls_head *h = &rp->st->head;
    if (!ls__head_by_ref(h, ref) && !ls__head_get(h, &ls, scry_labels_hash(&ls)))
        ls__head_create(h, &ls, ref);
    return 0;
}

static int on_entries(struct replay *rp, struct ls_rd *r)
{
    uint64_t ref = ls__rd_uvarint(r);
    int64_t prev = ls__rd_varint(r);
    uint64_t n = ls__rd_uvarint(r);
    if (r->bad)
        return SCRY_ECORRUPT;
    struct ls_stream *s = ls__head_by_ref(&rp->st->head, ref);
    if (!s) {
        rp->skipped++;
        return 0;
    }
    /* Metadata needs an arena to be decoded (and so kept); scratch. */
    struct scry_arena *md = scry_arena_create(4096);
    for (uint64_t i = 0; i < n; i++) {
        struct scry_log_entry e;
        scry_arena_reset(md);
        if (!ls__entry_get(r, prev, md, &e)) {
            scry_arena_destroy(md);
            return SCRY_ECORRUPT;
        }
        prev = e.t_ns;
        ls__head_append(&rp->st->head, s, &e);
    }
    scry_arena_destroy(md);
    return 0;
}

static int on_record(void *ud, uint8_t type, const void *payload, size_t len,
                     const struct scry_wal_pos *pos)
{
    struct replay *rp = ud;
    /* Segments already cut into a catalogued segment (README "Segments"). */
    if (!pos->checkpoint && pos->segment <= rp->st->wal_upto)
        return 0;
    struct ls_rd r = { payload, (const uint8_t *)payload + len, false };
    int rc = 0;
    if (type == LS_WAL_STREAM)
        rc = on_stream(rp, &r);
    else if (type == LS_WAL_ENTRIES)
        rc = on_entries(rp, &r);
    /* A bad payload inside a good CRC: skip the record, keep the rest. */
    if (rc)
        rp->skipped++;
    return 0;
}

int ls__wal_replay(struct ls_store *st, struct scry_err *err)
{
    struct replay rp = { .st = st, .a = scry_arena_create(4096) };
    struct scry_wal_replay_opts o = { .on_record = on_record, .ud = &rp, .skip_corrupt = true };
    int rc = scry_wal_replay(st->wal_dir, &o, NULL, err);
    scry_arena_destroy(rp.a);
    /* Corruption was skipped; everything readable is in the head. */
    if (rc == SCRY_ECORRUPT) {
        scry_err_clear(err);
        rc = 0;
    }
    return rc;
}
