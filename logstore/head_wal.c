/* head_wal.c — the log store's WAL records (FORMAT.md "WAL records") and
 * their replay into the head. Framing, CRCs, torn tails: core/wal.h. */
#include <assert.h>
#include <stdlib.h>
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

/* A stream record whose labels the head already holds under another ref:
 * after a crash in the middle of a flush, the WAL holds the frozen head's
 * records (before the cut) and the new head's (after it), where the same
 * stream came back with a new ref. Both refs lead to one head stream. */
struct alias {
    uint64_t ref;
    struct ls_stream *s;
};

struct replay {
    struct ls_store *st;
    struct scry_arena *a;
    uint64_t skipped;
    struct alias *al;
    size_t n_al, cap_al;
    bool al_sorted;
};

static int alias_cmp(const void *x, const void *y)
{
    uint64_t a = ((const struct alias *)x)->ref, b = ((const struct alias *)y)->ref;
    return (a > b) - (a < b);
}

static struct ls_stream *alias_get(struct replay *rp, uint64_t ref)
{
    if (rp->n_al == 0)
        return NULL;
    if (!rp->al_sorted) { /* refs grow in WAL order: this is rare */
        qsort(rp->al, rp->n_al, sizeof *rp->al, alias_cmp);
        rp->al_sorted = true;
    }
    size_t lo = 0, hi = rp->n_al;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (rp->al[m].ref < ref)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < rp->n_al && rp->al[lo].ref == ref ? rp->al[lo].s : NULL;
}

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
    if (ls__head_by_ref(h, ref) || alias_get(rp, ref))
        return 0;
    struct ls_stream *s = ls__head_get(h, &ls, scry_labels_hash(&ls));
    if (!s) {
        ls__head_create(h, &ls, ref);
        return 0;
    }
    if (rp->n_al == rp->cap_al) {
        rp->cap_al = rp->cap_al ? rp->cap_al * 2 : 16;
        rp->al = scry_realloc(rp->al, rp->cap_al * sizeof *rp->al);
    }
    if (rp->n_al && rp->al[rp->n_al - 1].ref > ref)
        rp->al_sorted = false;
    rp->al[rp->n_al++] = (struct alias){ ref, s };
    if (ref >= h->next_ref) /* new streams must not take this ref again */
        h->next_ref = ref + 1;
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
    if (!s)
        s = alias_get(rp, ref);
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
    struct replay rp = { .st = st, .a = scry_arena_create(4096), .al_sorted = true };
    struct scry_wal_replay_opts o = { .on_record = on_record, .ud = &rp, .skip_corrupt = true };
    int rc = scry_wal_replay(st->wal_dir, &o, NULL, err);
    scry_arena_destroy(rp.a);
    free(rp.al);
    /* Corruption was skipped; everything readable is in the head. */
    if (rc == SCRY_ECORRUPT) {
        scry_err_clear(err);
        rc = 0;
    }
    return rc;
}
