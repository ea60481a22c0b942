/* head_wal.c — rebuilding the head from its WAL.
 *
 * Records are applied as they come: SERIES creates the series with the
 * record's ref (so SAMPLES records, which carry refs, find them), SAMPLES
 * goes through the same per-series append as a commit, so ordering and
 * duplicate decisions are the ones the live head took. A SERIES record for
 * labels that already exist under another ref (a checkpoint and a segment
 * may both hold one) makes the second ref an alias for the replay. Samples
 * of refs no record named are counted and skipped — they belong to series a
 * checkpoint dropped because blocks hold them. TOMBSTONES add their
 * intervals to the series' deleted ranges, as tsdb_head_delete did live
 * (the record holds the ranges already clamped). Single-threaded: nothing else uses the
 * head during replay, but the locks are taken anyway so that TSan and the
 * invariants stay simple. */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"
#include "tsdb/wal_record.h"

struct replay {
    struct tsdb_head *h;
    struct scry_arena *a;
    struct tsdb__hmap alias; /* record ref → series */
    struct tsdb_head_replay_stats *st;
    const struct tsdb_head_replay_opts *opts;
    struct scry_err *err;
};

static struct tsdb__series *resolve(struct replay *r, uint64_t ref)
{
    struct tsdb__series *s = tsdb__series_by_ref(r->h, ref);
    if (!s) {
        size_t pos = SIZE_MAX;
        s = tsdb__hmap_next(&r->alias, ref, &pos);
    }
    return s;
}

static int on_series(struct replay *r, const void *p, size_t len)
{
    struct tsdb_wal_series *v;
    size_t n;
    int rc = tsdb_wal_series_decode(p, len, r->a, &v, &n, r->err);
    if (rc)
        return rc;
    struct tsdb_head *h = r->h;
    pthread_rwlock_wrlock(&h->map_lock);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t hash = scry_labels_hash(&v[i].labels);
        struct tsdb__series *s = tsdb__series_find_locked(h, &v[i].labels, hash);
        if (s) {
            if (s->ref != v[i].ref && !resolve(r, v[i].ref))
                tsdb__hmap_put(&r->alias, v[i].ref, s);
            if (v[i].ref >= h->next_ref)
                h->next_ref = v[i].ref + 1;
            continue;
        }
        if (resolve(r, v[i].ref)) {
            rc = scry_err_set(r->err, SCRY_ECORRUPT, "series ref %llu names two label sets",
                              (unsigned long long)v[i].ref);
            break;
        }
        rc = tsdb__series_create_locked(h, &v[i].labels, hash, v[i].ref, false, &s, r->err);
        r->st->series += !rc;
    }
    pthread_rwlock_unlock(&h->map_lock);
    return rc;
}

static int on_samples(struct replay *r, const void *p, size_t len)
{
    struct tsdb_wal_sample *v;
    size_t n;
    int rc = tsdb_wal_samples_decode(p, len, r->a, &v, &n, r->err);
    if (rc)
        return rc;
    struct tsdb_head *h = r->h;
    uint64_t stored = 0;
    for (size_t i = 0; i < n; i++) {
        struct tsdb__series *s = resolve(r, v[i].ref);
        if (!s) {
            r->st->unknown_refs++;
            continue;
        }
        assert(s->n_labels > 0 && !s->dead);
        if (v[i].t_ms < -TSDB__MAX_ABS_T || v[i].t_ms > TSDB__MAX_ABS_T) {
            r->st->rejected++; /* never logged by us: bytes from elsewhere */
            continue;
        }
        pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
        pthread_mutex_lock(mu);
        int res = tsdb__series_append(h, s, v[i].t_ms, v[i].v);
        pthread_mutex_unlock(mu);
        stored += res == TSDB__STORED;
        r->st->rejected += res == TSDB__OOO || res == TSDB__DUP_REJECTED;
    }
    r->st->samples += stored;
    atomic_fetch_add(&h->appended, stored);
    return 0;
}

static int on_tombstones(struct replay *r, const void *p, size_t len)
{
    struct tsdb_wal_tombstone *v;
    size_t n;
    int rc = tsdb_wal_tombstones_decode(p, len, r->a, &v, &n, r->err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct tsdb__series *s = resolve(r, v[i].ref);
        if (!s) {
            r->st->unknown_refs++;
            continue;
        }
        tsdb__series_delete(r->h, s, v[i].mint_ms, v[i].maxt_ms);
        r->st->tombstones++;
    }
    return 0;
}

static int on_record(void *ud, uint8_t type, const void *payload, size_t len,
                     const struct scry_wal_pos *pos)
{
    struct replay *r = ud;
    scry_arena_reset(r->a);
    int rc = 0;
    if (type == TSDB_WAL_SERIES)
        rc = on_series(r, payload, len);
    else if (type == TSDB_WAL_SAMPLES)
        rc = on_samples(r, payload, len);
    else if (type == TSDB_WAL_TOMBSTONES)
        rc = on_tombstones(r, payload, len);
    /* Unknown types (a newer version's): skipped. */
    if (rc) {
        r->err->offset = pos->offset;
        scry_err_prefix(r->err, "%s %u offset %llu", pos->checkpoint ? "checkpoint segment"
                        : "segment", pos->segment, (unsigned long long)pos->offset);
    }
    return rc;
}

static void on_progress(void *ud, const struct scry_wal_replay_stats *st)
{
    struct replay *r = ud;
    r->st->wal = *st;
    if (r->opts && r->opts->on_progress)
        r->opts->on_progress(r->opts->ud, st);
}

int tsdb_head_replay(struct tsdb_head *h, const char *dir, const struct tsdb_head_replay_opts *opts,
                     struct tsdb_head_replay_stats *stats, struct scry_err *err)
{
    struct tsdb_head_replay_stats local;
    struct scry_err local_err;
    struct replay r = {
        .h = h, .a = scry_arena_create(0), .st = stats ? stats : &local, .opts = opts,
        .err = err ? err : &local_err,
    };
    *r.st = (struct tsdb_head_replay_stats){ 0 };
    struct scry_wal_replay_opts wo = {
        .on_record = on_record, .on_progress = on_progress, .ud = &r,
        .skip_corrupt = opts && opts->skip_corrupt,
    };
    int rc = scry_wal_replay(dir, &wo, &r.st->wal, r.err);
    tsdb__hmap_fini(&r.alias);
    scry_arena_destroy(r.a);
    return rc ? scry_err_prefix(r.err, "head replay %s", dir) : 0;
}
