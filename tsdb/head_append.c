/* head_append.c — the head's appender (core/appender.h) and the per-series
 * append path.
 *
 * append_sample only resolves the series (a lock-free ref-table load when
 * the caller cached the ref) and buffers (ref, t, v); commit logs the batch
 * as one SAMPLES record, commits the WAL, and only then applies the samples
 * under their series' stripe locks, so anything a query can see is durable.
 * Appenders are pooled: after warm-up a batch allocates nothing, and a
 * sample allocates only when its open chunk's buffer grows (the first
 * chunk of a series) or a chunk is sealed (once per 120 samples).
 *
 * Ordering is decided when a sample is applied, against the series as it
 * is then; the WAL holds the batch as appended, and replay applies it in the
 * same order, so it takes the same decisions (a sample rejected now is
 * rejected again). append_sample drops early the samples that are already
 * older than the window by a lock-free look at the series' newest t, which
 * keeps most rejects out of the WAL. */
#include <stdio.h>
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"
#include "tsdb/wal_record.h"

/* Samples per SAMPLES record: keeps records far below the WAL's 64 MiB cap. */
#define REC_SAMPLES 65536u

struct tsdb__appender {
    struct scry_appender base;
    struct tsdb_head *h;
    struct tsdb__appender *next_free;
    struct tsdb_wal_sample *s;
    struct tsdb__series **ser;
    size_t n, cap;
    struct scry_buf rec;
    uint64_t early_ooo;
};

/* ---- per-series append (stripe lock held) ----------------------------------- */

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b != 0) & ((a < 0) != (b < 0)));
}

static void push_chunk(struct tsdb__chunk ***v, uint32_t *n, uint32_t *cap, struct tsdb__chunk *c)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 2;
        *v = scry_realloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = c;
}

/* Seals the open chunk: decode, re-encode with the best encoding, keep the
 * buffer for the next chunk. noinline: once per 120 samples. */
static __attribute__((noinline)) void cut(struct tsdb_head *h, struct tsdb__series *s)
{
    int64_t t[TSDB_CHUNK_MAX_SAMPLES];
    double v[TSDB_CHUNK_MAX_SAMPLES];
    struct tsdb__ochunk_iter it;
    size_t n = 0;
    tsdb__ochunk_iter_init(&it, s->open.b, tsdb__ochunk_len(&s->open), s->open.n);
    while (tsdb__ochunk_iter_next(&it)) {
        SCRY_ASSERT(n < TSDB_CHUNK_MAX_SAMPLES);
        t[n] = it.t;
        v[n++] = tsdb__bitsf(it.v);
    }
    SCRY_ASSERT(!it.err && n == s->open.n);
    push_chunk(&s->sealed, &s->n_sealed, &s->cap_sealed, tsdb__chunk_seal(t, v, n));
    tsdb__ochunk_reset(&s->open);
    if (h->m.chunks_created)
        scry_metric_inc(h->m.chunks_created);
}

static void append_in_order(struct tsdb_head *h, struct tsdb__series *s, int64_t t, double v)
{
    struct tsdb__ochunk *c = &s->open;
    if (c->n && (c->n >= h->chunk_samples ||
                 floordiv(t, h->block_ms) != floordiv(c->tlast, h->block_ms)))
        cut(h, s);
    tsdb__ochunk_append(c, t, v);
    atomic_store_explicit(&s->maxt, t, memory_order_relaxed);
}

static bool chunk_find(const struct tsdb__chunk *c, int64_t t, uint64_t *bits)
{
    if (t < c->mint || t > c->maxt)
        return false;
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, c->b, c->len);
    if (!tsdb_chunk_iter_seek(&it, t))
        return false;
    int64_t ct;
    double cv;
    tsdb_chunk_iter_at(&it, &ct, &cv);
    *bits = tsdb__fbits(cv);
    return ct == t;
}

/* Whether the series holds a sample at t (any store). Out-of-order path only. */
static bool series_find(const struct tsdb__series *s, int64_t t, uint64_t *bits)
{
    const struct tsdb__ooo *o = s->ooo;
    if (o) {
        size_t lo = 0, hi = o->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (o->s[mid].t < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < o->n && o->s[lo].t == t) {
            *bits = tsdb__fbits(o->s[lo].v);
            return true;
        }
        for (uint32_t i = 0; i < o->n_c; i++)
            if (chunk_find(o->c[i], t, bits))
                return true;
    }
    for (uint32_t i = s->n_sealed; i-- > 0;) {
        if (s->sealed[i]->maxt < t)
            break;
        if (chunk_find(s->sealed[i], t, bits))
            return true;
    }
    if (s->open.n && t <= s->open.tlast && t >= tsdb__ochunk_mint(&s->open)) {
        struct tsdb__ochunk_iter it;
        tsdb__ochunk_iter_init(&it, s->open.b, tsdb__ochunk_len(&s->open), s->open.n);
        while (tsdb__ochunk_iter_next(&it) && it.t <= t) {
            if (it.t == t) {
                *bits = it.v;
                return true;
            }
        }
    }
    return false;
}

static void ooo_insert(struct tsdb_head *h, struct tsdb__series *s, int64_t t, double v)
{
    if (!s->ooo)
        s->ooo = scry_calloc(1, sizeof *s->ooo);
    struct tsdb__ooo *o = s->ooo;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->s = scry_realloc(o->s, o->cap * sizeof *o->s);
    }
    uint32_t i = o->n;
    while (i > 0 && o->s[i - 1].t > t)
        i--;
    assert(i == 0 || o->s[i - 1].t != t); /* series_find ruled duplicates out */
    memmove(o->s + i + 1, o->s + i, (o->n - i) * sizeof *o->s);
    o->s[i] = (struct tsdb__sample){ t, v };
    if (++o->n < h->chunk_samples)
        return;
    int64_t ts[TSDB_CHUNK_MAX_SAMPLES];
    double vs[TSDB_CHUNK_MAX_SAMPLES];
    for (uint32_t j = 0; j < o->n; j++) {
        ts[j] = o->s[j].t;
        vs[j] = o->s[j].v;
    }
    push_chunk(&o->c, &o->n_c, &o->cap_c, tsdb__chunk_seal(ts, vs, o->n));
    o->n = 0;
}

static bool outside_window(const struct tsdb_head *h, int64_t maxt, int64_t t)
{
    /* maxt > t here; unsigned: the difference may not fit an int64. */
    return h->ooo_window_ms == 0 || (uint64_t)maxt - (uint64_t)t > (uint64_t)h->ooo_window_ms;
}

int tsdb__series_append(struct tsdb_head *h, struct tsdb__series *s, int64_t t, double v)
{
    int64_t mx = atomic_load_explicit(&s->maxt, memory_order_relaxed);
    if (mx == INT64_MIN || t > mx) {
        append_in_order(h, s, t, v);
        return TSDB__STORED;
    }
    uint64_t vb = tsdb__fbits(v), have;
    if (t == mx && s->open.n && s->open.tlast == t)
        return vb == s->open.vlast ? TSDB__DUP_IGNORED : TSDB__DUP_REJECTED;
    if (t < mx && outside_window(h, mx, t))
        return TSDB__OOO;
    if (series_find(s, t, &have))
        return vb == have ? TSDB__DUP_IGNORED : TSDB__DUP_REJECTED;
    if (t == mx) { /* its sample was truncated away with the open chunk */
        assert(!s->open.n);
        append_in_order(h, s, t, v);
    } else {
        ooo_insert(h, s, t, v);
    }
    return TSDB__STORED;
}

/* ---- the appender -------------------------------------------------------------- */

static void appender_end(struct tsdb__appender *a)
{
    struct tsdb_head *h = a->h;
    a->n = 0;
    a->early_ooo = 0;
    if (a->cap > REC_SAMPLES) { /* one huge remote_write batch: don't keep 32 B a sample */
        free(a->s);
        free(a->ser);
        a->s = NULL;
        a->ser = NULL;
        a->cap = 0;
        scry_buf_fini(&a->rec);
    }
    pthread_rwlock_unlock(&h->gc_lock);
    pthread_mutex_lock(&h->pool_lock);
    a->next_free = h->pool;
    h->pool = a;
    pthread_mutex_unlock(&h->pool_lock);
}

static int app_append_sample(struct scry_appender *app, uint64_t *ref,
                             const struct scry_labels *ls, int64_t t_ms, double v,
                             struct scry_err *err)
{
    struct tsdb__appender *a = (struct tsdb__appender *)app;
    struct tsdb_head *h = a->h;
    if (t_ms < -TSDB__MAX_ABS_T || t_ms > TSDB__MAX_ABS_T)
        return scry_err_set(err, SCRY_EINVAL, "timestamp %lld out of range",
                            (long long)t_ms);
    struct tsdb__series *s = *ref ? tsdb__series_by_ref(h, *ref) : NULL;
    if (!s) {
        if (!ls)
            return scry_err_set(err, SCRY_EINVAL, "unknown series ref %llu and no labels",
                                (unsigned long long)*ref);
        int rc = tsdb__series_get_or_create(h, ls, 0, true, &s, err);
        if (rc)
            return rc;
        *ref = s->ref;
    }
    /* Commit will write at the tail of the open chunk: fetch that line now,
     * while the caller is still decoding its next sample. The racy read is
     * of atomics, and a prefetch of a stale pointer cannot fault. */
    const uint8_t *tail = __atomic_load_n(&s->open.b, __ATOMIC_RELAXED);
    if (tail)
        __builtin_prefetch(tail + (__atomic_load_n(&s->open.nbits, __ATOMIC_RELAXED) >> 3), 1, 3);
    int64_t mx = atomic_load_explicit(&s->maxt, memory_order_relaxed);
    if (t_ms < mx && outside_window(h, mx, t_ms)) {
        a->early_ooo++;
        return scry_err_set(err, SCRY_EINVAL, "out of order sample: t=%lld, newest t=%lld",
                            (long long)t_ms, (long long)mx);
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->s = scry_realloc(a->s, a->cap * sizeof *a->s);
        a->ser = scry_realloc(a->ser, a->cap * sizeof *a->ser);
    }
    a->s[a->n] = (struct tsdb_wal_sample){ s->ref, t_ms, v };
    a->ser[a->n++] = s;
    return 0;
}

static int log_batch(struct tsdb__appender *a, struct scry_err *err)
{
    struct tsdb_head *h = a->h;
    for (size_t i = 0; i < a->n; i += REC_SAMPLES) {
        size_t k = a->n - i < REC_SAMPLES ? a->n - i : REC_SAMPLES;
        scry_buf_reset(&a->rec);
        tsdb_wal_samples_encode(&a->rec, a->s + i, k);
        int rc = scry_wal_append(h->wal, TSDB_WAL_SAMPLES, a->rec.p, a->rec.len, err);
        if (rc)
            return rc;
    }
    return scry_wal_commit(h->wal, err);
}

static int app_commit(struct scry_appender *app, struct scry_err *err)
{
    struct tsdb__appender *a = (struct tsdb__appender *)app;
    struct tsdb_head *h = a->h;
    int rc = 0;
    if (a->n && h->wal && (rc = log_batch(a, err))) {
        scry_err_prefix(err, "head commit: wal");
        appender_end(a);
        return rc;
    }
    uint64_t cnt[4] = { 0 };
    size_t first_bad = SIZE_MAX;
    int first_r = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct tsdb__series *s = a->ser[i];
        pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
        pthread_mutex_lock(mu);
        int r = tsdb__series_append(h, s, a->s[i].t_ms, a->s[i].v);
        pthread_mutex_unlock(mu);
        cnt[r]++;
        if ((r == TSDB__OOO || r == TSDB__DUP_REJECTED) && first_bad == SIZE_MAX) {
            first_bad = i;
            first_r = r;
        }
    }
    uint64_t ooo = cnt[TSDB__OOO] + a->early_ooo;
    atomic_fetch_add_explicit(&h->appended, cnt[TSDB__STORED], memory_order_relaxed);
    if (ooo)
        atomic_fetch_add_explicit(&h->out_of_order, ooo, memory_order_relaxed);
    if (cnt[TSDB__DUP_IGNORED])
        atomic_fetch_add_explicit(&h->dup_ignored, cnt[TSDB__DUP_IGNORED], memory_order_relaxed);
    if (cnt[TSDB__DUP_REJECTED])
        atomic_fetch_add_explicit(&h->dup_rejected, cnt[TSDB__DUP_REJECTED],
                                  memory_order_relaxed);
    if (h->m.appended) {
        scry_metric_add(h->m.appended, (double)cnt[TSDB__STORED]);
        if (ooo)
            scry_metric_add(h->m.ooo, (double)ooo);
        if (cnt[TSDB__DUP_IGNORED])
            scry_metric_add(h->m.dup_ignored, (double)cnt[TSDB__DUP_IGNORED]);
        if (cnt[TSDB__DUP_REJECTED])
            scry_metric_add(h->m.dup_rejected, (double)cnt[TSDB__DUP_REJECTED]);
    }
    if (first_bad != SIZE_MAX) {
        const struct tsdb_wal_sample *b = &a->s[first_bad];
        struct scry_buf lb = { 0 };
        struct scry_labels sl = tsdb__series_labels(a->ser[first_bad]);
        scry_labels_format(&sl, &lb);
        rc = scry_err_set(err, SCRY_EINVAL,
                          "%llu of %zu samples rejected (%llu out of order, %llu duplicate "
                          "timestamps with another value); first: %s for %s t=%lld",
                          (unsigned long long)(cnt[TSDB__OOO] + cnt[TSDB__DUP_REJECTED]), a->n,
                          (unsigned long long)cnt[TSDB__OOO],
                          (unsigned long long)cnt[TSDB__DUP_REJECTED],
                          first_r == TSDB__OOO ? "out of order sample"
                                               : "duplicate sample for timestamp",
                          lb.p ? lb.p : "{}", (long long)b->t_ms);
        scry_buf_fini(&lb);
    }
    appender_end(a);
    return rc;
}

static void app_rollback(struct scry_appender *app)
{
    appender_end((struct tsdb__appender *)app);
}

static const struct scry_appender_ops head_appender_ops = {
    .append_sample = app_append_sample,
    .append_log = NULL,
    .commit = app_commit,
    .rollback = app_rollback,
};

int tsdb__head_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    struct tsdb_head *h = (struct tsdb_head *)((char *)store - offsetof(struct tsdb_head, appendable));
    pthread_mutex_lock(&h->pool_lock);
    struct tsdb__appender *a = h->pool;
    if (a)
        h->pool = a->next_free;
    pthread_mutex_unlock(&h->pool_lock);
    if (!a) {
        a = scry_calloc(1, sizeof *a);
        a->base.ops = &head_appender_ops;
        a->h = h;
    }
    pthread_rwlock_rdlock(&h->gc_lock);
    *out = &a->base;
    return 0;
}

void tsdb__appender_pool_fini(struct tsdb_head *h)
{
    for (struct tsdb__appender *a = h->pool, *nx; a; a = nx) {
        nx = a->next_free;
        free(a->s);
        free(a->ser);
        scry_buf_fini(&a->rec);
        free(a);
    }
    h->pool = NULL;
}
