/* head_delete.c — deleting samples from the head (delete_series).
 *
 * As in Prometheus, the head does not rewrite its chunks: it keeps, per
 * series, the deleted ranges, and the querier and the chunk set (so the
 * block a cut writes) skip the samples in them. A range is clamped to the
 * series' samples at the time of the delete, so it never hides samples
 * appended later in order. The ranges are logged to the WAL as one
 * TOMBSTONES record before they are applied (visibility implies
 * durability, as for appends); replay applies the record the same way, and
 * the WAL checkpoint keeps the records of series still in the head. */
#include "core/mem.h"
#include "tsdb/head_internal.h"
#include "tsdb/wal_record.h"

void tsdb__series_delete(struct tsdb_head *h, struct tsdb__series *s, int64_t mint, int64_t maxt)
{
    if (mint < -TSDB__MAX_ABS_T)
        mint = -TSDB__MAX_ABS_T;
    if (maxt > TSDB__MAX_ABS_T)
        maxt = TSDB__MAX_ABS_T;
    if (mint > maxt)
        return;
    pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
    pthread_mutex_lock(mu);
    if (!s->del)
        s->del = scry_calloc(1, sizeof *s->del);
    tsdb_intervals_add(s->del, mint, maxt);
    pthread_mutex_unlock(mu);
}

/* The oldest and newest t of s, under its stripe lock. False when empty. */
static bool series_range(const struct tsdb__series *s, int64_t *mint, int64_t *maxt)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    if (s->n_sealed) {
        lo = s->sealed[0]->mint;
        hi = s->sealed[s->n_sealed - 1]->maxt;
    }
    if (s->open.n) {
        int64_t m = tsdb__ochunk_mint(&s->open);
        lo = m < lo ? m : lo;
        hi = s->open.tlast > hi ? s->open.tlast : hi;
    }
    if (s->ooo) {
        if (s->ooo->n) {
            lo = s->ooo->s[0].t < lo ? s->ooo->s[0].t : lo;
            hi = s->ooo->s[s->ooo->n - 1].t > hi ? s->ooo->s[s->ooo->n - 1].t : hi;
        }
        for (uint32_t i = 0; i < s->ooo->n_c; i++) {
            lo = s->ooo->c[i]->mint < lo ? s->ooo->c[i]->mint : lo;
            hi = s->ooo->c[i]->maxt > hi ? s->ooo->c[i]->maxt : hi;
        }
    }
    *mint = lo;
    *maxt = hi;
    return lo <= hi;
}

int tsdb_head_delete(struct tsdb_head *h, const struct scry_matcher *ms, size_t n_ms,
                     int64_t mint, int64_t maxt, uint64_t *n_series, struct scry_err *err)
{
    if (n_series)
        *n_series = 0;
    if (mint > maxt)
        return 0;
    struct scry_arena *a = scry_arena_create(0);
    /* Shared map_lock: no series is removed meanwhile (truncate takes it
     * exclusively), appenders go on. */
    pthread_rwlock_rdlock(&h->map_lock);
    uint64_t *refs;
    size_t n;
    int rc = scry_postings_expand(tsdb__index_select(h, a, ms, n_ms), a, &refs, &n, err);
    struct tsdb_wal_tombstone *st = NULL;
    size_t k = 0;
    if (!rc && n) {
        st = scry_arena_alloc(a, n * sizeof *st);
        for (size_t i = 0; i < n; i++) {
            struct tsdb__series *s = tsdb__series_by_ref(h, refs[i]);
            SCRY_ASSERT(s && s->ref == refs[i]);
            int64_t lo, hi;
            pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
            pthread_mutex_lock(mu);
            bool any = series_range(s, &lo, &hi);
            pthread_mutex_unlock(mu);
            lo = mint > lo ? mint : lo;
            hi = maxt < hi ? maxt : hi;
            if (any && lo <= hi)
                st[k++] = (struct tsdb_wal_tombstone){ s->ref, lo, hi };
        }
    }
    if (!rc && k && h->wal) {
        struct scry_buf rec = { 0 };
        rc = tsdb_wal_tombstones_encode(&rec, st, k, err);
        if (!rc)
            rc = scry_wal_append(h->wal, TSDB_WAL_TOMBSTONES, rec.p, rec.len, err);
        if (!rc)
            rc = scry_wal_commit(h->wal, err);
        scry_buf_fini(&rec);
    }
    if (!rc)
        for (size_t i = 0; i < k; i++)
            tsdb__series_delete(h, tsdb__series_by_ref(h, st[i].ref), st[i].mint_ms,
                                st[i].maxt_ms);
    pthread_rwlock_unlock(&h->map_lock);
    scry_arena_destroy(a);
    if (rc)
        return scry_err_prefix(err, "head delete");
    if (n_series)
        *n_series = k;
    return 0;
}
