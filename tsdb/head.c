/* head.c — the head's series: creation, lookup by labels and by ref,
 * truncation with garbage collection, stats, create/destroy.
 *
 * A series is one allocation: the struct (about 100 bytes) followed by its
 * label pairs, which point at interned strings (intern.c). It is found by
 * the xxHash64 of its labels in a multi-valued hash map — equal hashes are
 * told apart by comparing the labels, so a collision costs a compare, never
 * a wrong series — and by ref in a lock-free paged table, which is what an
 * appender with a cached ref hits on every sample. Refs grow monotonically
 * and are the WAL's, so a replay restores them unchanged. */
#include <stdlib.h>

#include "core/mem.h"
#include "tsdb/head_internal.h"
#include "tsdb/wal_record.h"

/* ---- ref table -------------------------------------------------------------- */

/* map_lock held exclusively. s == NULL clears. */
static void reftab_set(struct tsdb_head *h, uint64_t ref, struct tsdb__series *s)
{
    struct tsdb__refdir *d = atomic_load_explicit(&h->refdir, memory_order_relaxed);
    uint64_t pi = ref >> TSDB__REFTAB_PAGE_BITS;
    if (!d || pi >= d->n) {
        assert(s);
        size_t n = d ? d->n : 0, nn = n ? n : 16;
        while (nn <= pi)
            nn *= 2;
        struct tsdb__refdir *nd = scry_calloc(1, sizeof *nd + nn * sizeof nd->p[0]);
        nd->n = nn;
        nd->retired = d;
        for (size_t i = 0; i < n; i++)
            atomic_init(&nd->p[i], atomic_load_explicit(&d->p[i], memory_order_relaxed));
        atomic_store_explicit(&h->refdir, nd, memory_order_release);
        d = nd;
    }
    struct tsdb__refpage *p = atomic_load_explicit(&d->p[pi], memory_order_relaxed);
    if (!p) {
        assert(s);
        p = scry_calloc(1, sizeof *p);
        atomic_store_explicit(&d->p[pi], p, memory_order_release);
    }
    size_t i = ref & (TSDB__REFTAB_PAGE - 1);
    struct tsdb__series *old = atomic_load_explicit(&p->s[i], memory_order_relaxed);
    p->used += (s != NULL) - (old != NULL);
    atomic_store_explicit(&p->s[i], s, memory_order_release);
}

/* Truncate and destroy only: nobody reads the table. Frees the directories
 * replaced by growth and, with free_empty, pages no series uses. */
static void reftab_compact(struct tsdb_head *h, bool all)
{
    struct tsdb__refdir *d = atomic_load_explicit(&h->refdir, memory_order_relaxed);
    if (!d)
        return;
    for (struct tsdb__refdir *r = d->retired, *nx; r; r = nx) {
        nx = r->retired;
        free(r);
    }
    d->retired = NULL;
    for (size_t i = 0; i < d->n; i++) {
        struct tsdb__refpage *p = atomic_load_explicit(&d->p[i], memory_order_relaxed);
        if (p && (all || p->used == 0)) {
            free(p);
            atomic_store_explicit(&d->p[i], NULL, memory_order_relaxed);
        }
    }
    if (all) {
        free(d);
        atomic_store_explicit(&h->refdir, NULL, memory_order_relaxed);
    }
}

/* ---- series ------------------------------------------------------------------ */

struct tsdb__series *tsdb__series_find_locked(struct tsdb_head *h, const struct scry_labels *ls,
                                              uint64_t hash)
{
    size_t pos = SIZE_MAX;
    struct tsdb__series *s;
    while ((s = tsdb__hmap_next(&h->series, hash, &pos))) {
        struct scry_labels sl = tsdb__series_labels(s);
        if (scry_labels_equal(&sl, ls))
            return s;
    }
    return NULL;
}

static int log_series(struct tsdb_head *h, uint64_t ref, const struct scry_labels *ls,
                      struct scry_err *err)
{
    struct tsdb_wal_series rec = { .ref = ref, .labels = *ls };
    scry_buf_reset(&h->wal_scratch);
    int rc = tsdb_wal_series_encode(&h->wal_scratch, &rec, 1, err);
    if (!rc)
        rc = scry_wal_append(h->wal, TSDB_WAL_SERIES, h->wal_scratch.p, h->wal_scratch.len, err);
    return rc ? scry_err_prefix(err, "log series") : 0;
}

int tsdb__series_create_locked(struct tsdb_head *h, const struct scry_labels *ls, uint64_t hash,
                               uint64_t ref, bool log, struct tsdb__series **out,
                               struct scry_err *err)
{
    if (ls->n == 0)
        return scry_err_set(err, SCRY_EINVAL, "empty label set");
    int rc = scry_labels_validate(ls, err);
    if (rc)
        return rc;
    if (ref == 0)
        ref = h->next_ref;
    else if (tsdb__series_by_ref(h, ref))
        return scry_err_set(err, SCRY_ECORRUPT, "series ref %llu used twice",
                            (unsigned long long)ref);
    if (log && h->wal && (rc = log_series(h, ref, ls, err)))
        return rc;
    if (ref >= h->next_ref)
        h->next_ref = ref + 1;

    struct tsdb__series *s = scry_calloc(1, sizeof *s + ls->n * sizeof s->labels[0]);
    s->ref = ref;
    s->hash = hash;
    atomic_init(&s->maxt, INT64_MIN);
    s->n_labels = (uint32_t)ls->n;
    for (size_t i = 0; i < ls->n; i++) {
        s->labels[i].name = tsdb__intern_get(&h->intern, ls->v[i].name);
        s->labels[i].value = tsdb__intern_get(&h->intern, ls->v[i].value);
    }
    tsdb__hmap_put(&h->series, hash, s);
    reftab_set(h, ref, s);
    tsdb__index_add(&h->index, s);
    atomic_fetch_add(&h->n_series, 1);
    if (h->m.created) {
        scry_metric_inc(h->m.created);
        scry_metric_set(h->m.series, (double)atomic_load(&h->n_series));
    }
    *out = s;
    return 0;
}

int tsdb__series_get_or_create(struct tsdb_head *h, const struct scry_labels *ls, uint64_t ref,
                               bool log, struct tsdb__series **out, struct scry_err *err)
{
    uint64_t hash = scry_labels_hash(ls);
    pthread_rwlock_rdlock(&h->map_lock);
    struct tsdb__series *s = tsdb__series_find_locked(h, ls, hash);
    pthread_rwlock_unlock(&h->map_lock);
    if (s) {
        *out = s;
        return 0;
    }
    pthread_rwlock_wrlock(&h->map_lock);
    int rc = 0;
    s = tsdb__series_find_locked(h, ls, hash); /* another appender may have won */
    if (!s)
        rc = tsdb__series_create_locked(h, ls, hash, ref, log, &s, err);
    pthread_rwlock_unlock(&h->map_lock);
    if (!rc)
        *out = s;
    return rc;
}

static void series_free_samples(struct tsdb__series *s)
{
    for (uint32_t i = 0; i < s->n_sealed; i++)
        tsdb__chunk_release(s->sealed[i]);
    free(s->sealed);
    s->sealed = NULL;
    s->n_sealed = s->cap_sealed = 0;
    tsdb__ochunk_fini(&s->open);
    if (s->ooo) {
        for (uint32_t i = 0; i < s->ooo->n_c; i++)
            tsdb__chunk_release(s->ooo->c[i]);
        free(s->ooo->c);
        free(s->ooo->s);
        free(s->ooo);
        s->ooo = NULL;
    }
    if (s->del) {
        tsdb_intervals_fini(s->del);
        free(s->del);
        s->del = NULL;
    }
}

/* ---- truncate ----------------------------------------------------------------- */

/* Releases the chunks wholly below mint, keeps the others in order. */
static uint32_t drop_chunks_below(struct tsdb__chunk **c, uint32_t n, int64_t mint)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (c[i]->maxt < mint)
            tsdb__chunk_release(c[i]);
        else
            c[k++] = c[i];
    }
    return k;
}

/* Under the series' stripe lock. Returns true when the series is empty. */
static bool series_truncate(struct tsdb__series *s, int64_t mint)
{
    s->n_sealed = drop_chunks_below(s->sealed, s->n_sealed, mint);
    if (s->open.n && s->open.tlast < mint)
        tsdb__ochunk_fini(&s->open); /* idle since mint: give the buffer back */
    struct tsdb__ooo *o = s->ooo;
    if (o) {
        o->n_c = drop_chunks_below(o->c, o->n_c, mint);
        uint32_t k = 0;
        while (k < o->n && o->s[k].t < mint)
            k++;
        memmove(o->s, o->s + k, (o->n - k) * sizeof *o->s);
        o->n -= k;
        if (!o->n && !o->n_c) {
            free(o->c);
            free(o->s);
            free(o);
            s->ooo = NULL;
        }
    }
    if (s->del) {
        /* Deletions below mint are done with: the samples they hid are gone. */
        tsdb_intervals_drop_below(s->del, mint);
        if (!s->del->n) {
            tsdb_intervals_fini(s->del);
            free(s->del);
            s->del = NULL;
        }
    }
    return !s->n_sealed && !s->open.n && !s->ooo;
}

static void series_destroy(struct tsdb_head *h, struct tsdb__series *s)
{
    series_free_samples(s);
    for (uint32_t i = 0; i < s->n_labels; i++) {
        tsdb__intern_put(&h->intern, s->labels[i].name);
        tsdb__intern_put(&h->intern, s->labels[i].value);
    }
    free(s);
}

size_t tsdb_head_truncate(struct tsdb_head *h, int64_t mint)
{
    pthread_rwlock_wrlock(&h->gc_lock);
    pthread_rwlock_wrlock(&h->map_lock);
    uint64_t *dead = NULL;
    struct tsdb__series **dead_s = NULL;
    size_t n_dead = 0, cap = 0;
    for (size_t i = 0; i < h->index.n_all; i++) {
        struct tsdb__series *s = tsdb__series_by_ref(h, h->index.all[i]);
        SCRY_ASSERT(s && s->ref == h->index.all[i]);
        pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
        pthread_mutex_lock(mu);
        bool empty = series_truncate(s, mint);
        pthread_mutex_unlock(mu);
        if (!empty)
            continue;
        if (n_dead == cap) {
            cap = cap ? cap * 2 : 256;
            dead = scry_realloc(dead, cap * sizeof *dead);
            dead_s = scry_realloc(dead_s, cap * sizeof *dead_s);
        }
        dead_s[n_dead] = s;
        dead[n_dead++] = s->ref; /* ascending, as index.all */
    }
    for (size_t i = 0; i < n_dead; i++) {
        struct tsdb__series *s = dead_s[i];
        bool found = tsdb__hmap_del(&h->series, s->hash, s);
        SCRY_ASSERT(found);
        reftab_set(h, s->ref, NULL);
        s->dead = true;
    }
    /* The index points at the interned strings: drop the refs first. */
    tsdb__index_remove(&h->index, dead_s, dead, n_dead);
    for (size_t i = 0; i < n_dead; i++)
        series_destroy(h, dead_s[i]);
    free(dead);
    free(dead_s);
    reftab_compact(h, false);
    atomic_fetch_sub(&h->n_series, n_dead);
    if (h->m.removed) {
        scry_metric_add(h->m.removed, (double)n_dead);
        scry_metric_set(h->m.series, (double)atomic_load(&h->n_series));
    }
    pthread_rwlock_unlock(&h->map_lock);
    pthread_rwlock_unlock(&h->gc_lock);
    return n_dead;
}

/* ---- stats -------------------------------------------------------------------- */

uint64_t tsdb_head_series_count(struct tsdb_head *h)
{
    return atomic_load(&h->n_series);
}

bool tsdb_head_series_alive(struct tsdb_head *h, uint64_t ref)
{
    return tsdb__series_by_ref(h, ref) != NULL;
}

static void series_stats(const struct tsdb__series *s, struct tsdb_head_stats *st)
{
    for (uint32_t i = 0; i < s->n_sealed; i++) {
        const struct tsdb__chunk *c = s->sealed[i];
        st->samples += c->n;
        st->chunks++;
        st->chunk_bytes += sizeof *c + c->len;
        st->mint_ms = c->mint < st->mint_ms ? c->mint : st->mint_ms;
        st->maxt_ms = c->maxt > st->maxt_ms ? c->maxt : st->maxt_ms;
    }
    if (s->open.n) {
        st->samples += s->open.n;
        st->open_bytes += s->open.cap;
        int64_t mint = tsdb__ochunk_mint(&s->open);
        st->mint_ms = mint < st->mint_ms ? mint : st->mint_ms;
        st->maxt_ms = s->open.tlast > st->maxt_ms ? s->open.tlast : st->maxt_ms;
    }
    if (s->ooo) {
        const struct tsdb__ooo *o = s->ooo;
        for (uint32_t i = 0; i < o->n_c; i++) {
            st->samples += o->c[i]->n;
            st->ooo_samples += o->c[i]->n;
            st->chunks++;
            st->chunk_bytes += sizeof *o->c[i] + o->c[i]->len;
            st->mint_ms = o->c[i]->mint < st->mint_ms ? o->c[i]->mint : st->mint_ms;
            st->maxt_ms = o->c[i]->maxt > st->maxt_ms ? o->c[i]->maxt : st->maxt_ms;
        }
        st->samples += o->n;
        st->ooo_samples += o->n;
        if (o->n) {
            st->mint_ms = o->s[0].t < st->mint_ms ? o->s[0].t : st->mint_ms;
            st->maxt_ms = o->s[o->n - 1].t > st->maxt_ms ? o->s[o->n - 1].t : st->maxt_ms;
        }
    }
}

void tsdb_head_stats(struct tsdb_head *h, struct tsdb_head_stats *out)
{
    *out = (struct tsdb_head_stats){ .mint_ms = INT64_MAX, .maxt_ms = INT64_MIN };
    pthread_rwlock_rdlock(&h->map_lock);
    for (size_t i = 0; i < h->index.n_all; i++) {
        struct tsdb__series *s = tsdb__series_by_ref(h, h->index.all[i]);
        pthread_mutex_t *mu = tsdb__stripe(h, s->ref);
        pthread_mutex_lock(mu);
        series_stats(s, out);
        pthread_mutex_unlock(mu);
    }
    out->series = h->index.n_all;
    pthread_rwlock_unlock(&h->map_lock);
    out->appended = atomic_load(&h->appended);
    out->out_of_order = atomic_load(&h->out_of_order);
    out->duplicates_ignored = atomic_load(&h->dup_ignored);
    out->duplicates_rejected = atomic_load(&h->dup_rejected);
}

/* ---- create / destroy ------------------------------------------------------------ */

static void rwlock_init_writer_first(pthread_rwlock_t *l)
{
    /* Appenders hold gc_lock shared almost all the time; with glibc's default
     * reader preference truncate would wait forever. */
    pthread_rwlockattr_t at;
    pthread_rwlockattr_init(&at);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(l, &at);
    pthread_rwlockattr_destroy(&at);
}

static void metrics_init(struct tsdb_head *h, struct scry_metrics *m)
{
    if (!m)
        return;
    h->m.appended = scry_metrics_counter(m, "scry_tsdb_head_samples_appended_total",
                                         "Samples stored in the head.");
    h->m.ooo = scry_metrics_counter(m, "scry_tsdb_out_of_order_samples_total",
                                    "Samples rejected as older than the out-of-order window.");
    static const char *const result[] = { "result" };
    struct scry_metric_family *f = scry_metrics_family(
        m, SCRY_METRIC_COUNTER, "scry_tsdb_duplicate_samples_total",
        "Samples with the timestamp of a stored one: ignored (same value) or rejected.", result,
        1, NULL, 0);
    h->m.dup_ignored = scry_metric_with(f, (const char *const[]){ "ignored" });
    h->m.dup_rejected = scry_metric_with(f, (const char *const[]){ "rejected" });
    h->m.series = scry_metrics_gauge(m, "scry_tsdb_head_series", "Series in the head.");
    h->m.created = scry_metrics_counter(m, "scry_tsdb_head_series_created_total",
                                        "Series created in the head.");
    h->m.removed = scry_metrics_counter(m, "scry_tsdb_head_series_removed_total",
                                        "Series removed from the head by truncation.");
    h->m.chunks_created = scry_metrics_counter(m, "scry_tsdb_head_chunks_created_total",
                                               "Head chunks sealed.");
}

int tsdb_head_create(struct tsdb_head **out, const struct tsdb_head_opts *opts,
                     struct scry_err *err)
{
    struct tsdb_head_opts o = opts ? *opts : (struct tsdb_head_opts){ 0 };
    if (o.out_of_order_window_ms < 0)
        return scry_err_set(err, SCRY_EINVAL, "head: negative out_of_order_window_ms");
    if (o.chunk_samples > TSDB_CHUNK_MAX_SAMPLES)
        return scry_err_set(err, SCRY_EINVAL, "head: chunk_samples %u above %d", o.chunk_samples,
                            TSDB_CHUNK_MAX_SAMPLES);
    if (o.block_duration_ms < 0)
        return scry_err_set(err, SCRY_EINVAL, "head: negative block_duration_ms");
    struct tsdb_head *h = aligned_alloc(64, sizeof *h); /* the stripes are line-aligned */
    SCRY_ASSERT(h);
    memset(h, 0, sizeof *h);
    h->appendable.begin = tsdb__head_begin;
    h->queryable.querier = tsdb__head_querier;
    h->ooo_window_ms = o.out_of_order_window_ms;
    h->chunk_samples = o.chunk_samples ? o.chunk_samples : TSDB__DEFAULT_CHUNK_SAMPLES;
    h->block_ms = o.block_duration_ms ? o.block_duration_ms : TSDB__DEFAULT_BLOCK_MS;
    h->clock = o.clock;
    h->next_ref = 1;
    rwlock_init_writer_first(&h->gc_lock);
    rwlock_init_writer_first(&h->map_lock);
    for (size_t i = 0; i < TSDB__N_STRIPES; i++)
        pthread_mutex_init(&h->stripes[i].mu, NULL);
    pthread_mutex_init(&h->pool_lock, NULL);
    metrics_init(h, o.metrics);
    *out = h;
    return 0;
}

void tsdb_head_destroy(struct tsdb_head *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->index.n_all; i++)
        series_destroy(h, tsdb__series_by_ref(h, h->index.all[i]));
    tsdb__appender_pool_fini(h);
    reftab_compact(h, true);
    tsdb__index_fini(&h->index); /* frees no strings: they went with the series */
    tsdb__intern_fini(&h->intern);
    tsdb__hmap_fini(&h->series);
    scry_buf_fini(&h->wal_scratch);
    pthread_rwlock_destroy(&h->gc_lock);
    pthread_rwlock_destroy(&h->map_lock);
    for (size_t i = 0; i < TSDB__N_STRIPES; i++)
        pthread_mutex_destroy(&h->stripes[i].mu);
    pthread_mutex_destroy(&h->pool_lock);
    free(h);
}

struct scry_appendable *tsdb_head_appendable(struct tsdb_head *h) { return &h->appendable; }
struct scry_queryable *tsdb_head_queryable(struct tsdb_head *h) { return &h->queryable; }
void tsdb_head_set_wal(struct tsdb_head *h, struct scry_wal *wal) { h->wal = wal; }
