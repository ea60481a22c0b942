/* querier_decode.c — decoding a stream set's chunks, possibly ahead on
 * worker threads.
 *
 * Every chunk the stream set will read is a job, numbered in reading order
 * (groups in order, each group's chunks in the query's direction). Decoding
 * a job = decompressing it, splitting the entries, keeping those in the time
 * range and, with line_contains hints, only those whose line holds every
 * literal. With more than one job, LS_DECODE_WORKERS threads decode jobs
 * ahead into a ring of slots while the caller consumes them in order: the
 * decompression (most of a scan's cost) runs on the other core. A job the
 * caller will not read (a stream abandoned half-way by a log query's
 * limit) is skipped without decoding. The slots and the ring are declared
 * in ls_internal.h; querier_iter.c is the consumer. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "logstore/ls_internal.h"

/* A literal to find in lines, with the offset of its rarest byte. */
struct lit {
    const char *p;
    size_t len, rare;
};

/* Picks the literal's byte that is rarest in a sample of the text to be
 * searched (ties: the later byte), so the memchr skip loop stops seldom. */
static void lit_prepare(struct lit *l, const char *sample, size_t n)
{
    uint16_t freq[256] = { 0 };
    if (n > 4096)
        n = 4096;
    for (size_t i = 0; i < n; i++)
        freq[(unsigned char)sample[i]]++;
    size_t r = 0;
    for (size_t i = 1; i < l->len; i++)
        if (freq[(unsigned char)l->p[i]] <= freq[(unsigned char)l->p[r]])
            r = i;
    l->rare = r;
}

/* The first occurrence of the literal in h[0..len): memchr (vectorised in
 * libc) on its rarest byte, then a compare. On log text this skips far
 * faster than memmem's shift tables. */
static const char *find_lit(const char *h, size_t len, const struct lit *l)
{
    size_t m = l->len, r = l->rare;
    if (m > len)
        return NULL;
    if (m == 1)
        return memchr(h, l->p[0], len);
    const char *end = h + len - m + r + 1; /* where the rare byte may lie */
    char c = l->p[r], c0 = l->p[0], c1 = l->p[m - 1];
    for (const char *p = h + r; p < end;) {
        const char *q = memchr(p, c, (size_t)(end - p));
        if (!q)
            return NULL;
        const char *s = q - r;
        if (s[0] == c0 && s[m - 1] == c1 && !memcmp(s, l->p, m))
            return s;
        p = q + 1;
    }
    return NULL;
}

static bool line_has(const struct lit *lits, size_t from, size_t n, const struct scry_str *l)
{
    for (size_t k = from; k < n; k++)
        if (!find_lit(l->p, l->len, &lits[k]))
            return false;
    return true;
}

/* Keeps the entries whose line holds every literal. Columnar lines lie
 * back to back, so the first literal is searched over all of them at once
 * and mapped back to entries; the others are checked per kept line. */
static void keep_matching(const struct ls_decoder *d, struct ls_dslot *s, bool contiguous)
{
    size_t k = 0, n = s->n_ents, nl = d->n_lits;
    struct scry_log_entry *e = s->ents;
    if (n == 0)
        return;
    struct lit lits[8];
    if (nl > 8)
        nl = 8; /* advisory: checking some of them is enough */
    contiguous = contiguous && n >= 2;
    const char *end = e[n - 1].line.p + e[n - 1].line.len;
    for (size_t i = 0; i < nl; i++) {
        lits[i] = (struct lit){ d->lits[i].p, d->lits[i].len, 0 };
        lit_prepare(&lits[i], e[0].line.p,
                    contiguous ? (size_t)(end - e[0].line.p) : e[0].line.len);
    }
    if (!contiguous) {
        for (size_t i = 0; i < n; i++)
            if (line_has(lits, 0, nl, &e[i].line))
                e[k++] = e[i];
        s->n_ents = k;
        return;
    }
    size_t i = 0;
    const char *from = e[0].line.p;
    while (i < n) {
        const char *hit = find_lit(from, (size_t)(end - from), &lits[0]);
        if (!hit)
            break;
        /* the entry holding hit: lines ascend */
        while (i < n && e[i].line.p + e[i].line.len <= hit)
            i++;
        if (i == n)
            break;
        if (hit < e[i].line.p) { /* in a line outside the time range */
            from = e[i].line.p;
            continue;
        }
        if (hit + lits[0].len <= e[i].line.p + e[i].line.len) {
            if (line_has(lits, 1, nl, &e[i].line))
                e[k++] = e[i];
            from = e[i].line.p + e[i].line.len;
            i++;
        } else {
            from = hit + 1; /* straddles two lines: look again further on */
        }
    }
    s->n_ents = k;
}

static int decode(const struct ls_decoder *d, struct ls_dslot *s, const struct ls_chunk_src *c)
{
    const uint8_t *p;
    s->n_ents = 0;
    s->counted = c->counted;
    if (c->counted) {
        if (s->cap_ents == 0) {
            s->cap_ents = 1;
            s->ents = scry_realloc(s->ents, sizeof *s->ents);
        }
        s->ents[s->n_ents++] = (struct scry_log_entry){ .t_ns = c->maxt, .line = { "", 0 } };
        return 0;
    }
    int rc = ls__chunk_payload(c, &s->dec, &p, &s->err);
    if (rc)
        return rc;
    scry_arena_reset(s->md);
    if (c->n > c->raw_len) /* every entry takes >= 3 payload bytes */
        return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk of %u bytes cannot hold %u entries",
                            c->raw_len, c->n);
    if (c->n > s->cap_ents) {
        s->cap_ents = c->n;
        s->ents = scry_realloc(s->ents, c->n * sizeof *s->ents);
    }
    bool cols = c->codec == LS_CODEC_ZSTD_COLS || c->codec == LS_CODEC_ZSTD_COLS2;
    int64_t prev = c->mint;
    if (cols) {
        if (!ls__cols_get(c->codec, p, c->raw_len, c->n, c->mint, s->md, s->ents))
            return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk payload");
        for (uint32_t i = 0; i < c->n; i++) {
            struct scry_log_entry e = s->ents[i];
            if (e.t_ns < prev || e.t_ns > c->maxt)
                return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk entry %u", i);
            prev = e.t_ns;
            if (e.t_ns >= d->mint && e.t_ns <= d->maxt)
                s->ents[s->n_ents++] = e;
        }
    } else {
        struct ls_rd r = { p, p + c->raw_len, false };
        for (uint32_t i = 0; i < c->n; i++) {
            struct scry_log_entry e;
            if (!ls__entry_get(&r, prev, s->md, &e) || e.t_ns > c->maxt)
                return scry_err_set(&s->err, SCRY_ECORRUPT, "chunk entry %u", i);
            prev = e.t_ns;
            if (e.t_ns >= d->mint && e.t_ns <= d->maxt)
                s->ents[s->n_ents++] = e;
        }
        if (r.p != r.end)
            return scry_err_set(&s->err, SCRY_ECORRUPT, "bytes after the last entry");
    }
    if (d->n_lits)
        keep_matching(d, s, cols);
    return 0;
}

static void *worker(void *arg)
{
    struct ls_decoder *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stop && d->next_job < d->n_djobs && d->next_job >= d->consumed + LS_RING)
            pthread_cond_wait(&d->cv_space, &d->mu);
        if (d->stop || d->next_job >= d->n_djobs)
            break;
        size_t j = d->next_job++;
        struct ls_dslot *s = &d->slots[j % LS_RING];
        if (j >= d->skip_to) {
            pthread_mutex_unlock(&d->mu);
            s->err.code = 0;
            decode(d, s, d->djobs[j]);
            pthread_mutex_lock(&d->mu);
        } else {
            s->n_ents = 0;
            s->counted = 0;
            s->err.code = 0;
        }
        s->done = j + 1;
        pthread_cond_broadcast(&d->cv_ready);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static int decode_workers(void)
{
    static int n = -1;
    if (n < 0) {
        /* SCRY_LS_DECODE_THREADS=0 decodes on the caller's thread (tests, A/B) */
        const char *e = getenv("SCRY_LS_DECODE_THREADS");
        int v = e ? atoi(e) : LS_DECODE_WORKERS;
        n = v < 0 ? 0 : v > LS_DECODE_WORKERS ? LS_DECODE_WORKERS : v;
    }
    return n;
}

/* The pool: LS_DECODE_WORKERS threads for the process, started at the
 * first threaded decode and never stopped, running worker() for the
 * decoders queued on it. Threads created per query cost ~40 page faults
 * each (glibc gives a finished thread's stack back with madvise, so the
 * next one faults it in again, plus its malloc arena) and ~20 % of a
 * dense needle's query_range CPU. A queued run may start late (the pool
 * busy with another query): the consumer then decodes unclaimed jobs
 * itself (ls__decoder_get), so no query ever waits on another. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    struct ls_decoder *head, *tail; /* decoders with queued runs */
    int n_threads;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           NULL, NULL, 0 };

static void pool_unlink(struct ls_decoder *d)
{
    struct ls_decoder **pp = &pool.head, *prev = NULL;
    while (*pp && *pp != d) {
        prev = *pp;
        pp = &(*pp)->pool_next;
    }
    if (!*pp)
        return;
    *pp = d->pool_next;
    if (pool.tail == d)
        pool.tail = prev;
    d->pool_next = NULL;
}

static void *pool_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!pool.head)
            pthread_cond_wait(&pool.cv_work, &pool.mu);
        struct ls_decoder *d = pool.head;
        if (--d->pool_queued == 0)
            pool_unlink(d);
        d->pool_running++;
        pthread_mutex_unlock(&pool.mu);
        worker(d);
        pthread_mutex_lock(&pool.mu);
        d->pool_running--;
        pthread_cond_broadcast(&pool.cv_done);
    }
    return NULL;
}

/* Queues w runs of worker(d); returns how many the pool can take (0: no
 * thread could be started). */
static int pool_submit(struct ls_decoder *d, int w)
{
    pthread_mutex_lock(&pool.mu);
    while (pool.n_threads < LS_DECODE_WORKERS) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_thread, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        pool.n_threads++;
    }
    if (w > pool.n_threads)
        w = pool.n_threads;
    if (w > 0) {
        d->pool_queued = w;
        d->pool_next = NULL;
        if (pool.tail)
            pool.tail->pool_next = d;
        else
            pool.head = d;
        pool.tail = d;
        pthread_cond_broadcast(&pool.cv_work);
    }
    pthread_mutex_unlock(&pool.mu);
    return w;
}

void ls__decoder_start(struct ls_decoder *d)
{
    for (size_t i = 0; i < LS_RING; i++)
        d->slots[i].md = scry_arena_create(16384);
    /* A counted job costs nothing to "decode"; sending it through the ring
     * cost a handoff between threads each (a count over 300 counted chunks
     * spent most of its wall time waking workers). */
    d->djobs = scry_malloc((d->n_jobs + 1) * sizeof *d->djobs);
    d->dix = scry_malloc((d->n_jobs + 1) * sizeof *d->dix);
    for (size_t j = 0; j < d->n_jobs; j++) {
        d->dix[j] = d->n_djobs;
        if (!d->jobs[j]->counted)
            d->djobs[d->n_djobs++] = d->jobs[j];
    }
    int w = decode_workers();
    if (d->n_djobs < 2 || w == 0)
        return;
    if ((size_t)w > d->n_djobs - 1)
        w = (int)(d->n_djobs - 1);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv_ready, NULL);
    pthread_cond_init(&d->cv_space, NULL);
    d->n_workers = pool_submit(d, w);
    if (d->n_workers == 0) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv_ready);
        pthread_cond_destroy(&d->cv_space);
    }
}

/* Job j decoded, in its slot; the consumer moves only forward. With
 * workers, the jobs from the last one released up to j are released (those
 * not yet claimed are skipped, claimed ones awaited); job j itself, if no
 * worker claimed it yet, is decoded here. NULL never: errors are in the
 * slot. */
struct ls_dslot *ls__decoder_get(struct ls_decoder *d, size_t job)
{
    if (d->jobs[job]->counted || !d->n_workers) {
        struct ls_dslot *s = d->jobs[job]->counted ? &d->cslot : &d->slots[0];
        s->err.code = 0;
        decode(d, s, d->jobs[job]);
        return s;
    }
    size_t j = d->dix[job];
    pthread_mutex_lock(&d->mu);
    size_t claimed = d->next_job; /* jobs below were claimed by a worker */
    if (claimed < j)
        d->next_job = j; /* [claimed, j): nobody decodes them */
    if (d->skip_to < j)
        d->skip_to = j;
    pthread_cond_broadcast(&d->cv_space);
    for (;;) {
        /* release what lies before j, in order, as it completes */
        while (d->consumed < j) {
            if (d->consumed >= claimed)
                d->consumed = j;
            else if (d->slots[d->consumed % LS_RING].done == d->consumed + 1)
                d->consumed++;
            else
                break;
            pthread_cond_broadcast(&d->cv_space);
        }
        if (d->consumed == j) {
            struct ls_dslot *s = &d->slots[j % LS_RING];
            if (s->done == j + 1)
                break;
            if (d->next_job == j) { /* no worker got to it: decode it here */
                d->next_job++;
                pthread_cond_broadcast(&d->cv_space);
                pthread_mutex_unlock(&d->mu);
                s->err.code = 0;
                decode(d, s, d->djobs[j]);
                pthread_mutex_lock(&d->mu);
                s->done = j + 1;
                break;
            }
        }
        pthread_cond_wait(&d->cv_ready, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return &d->slots[j % LS_RING];
}

void ls__decoder_stop(struct ls_decoder *d)
{
    if (d->n_workers) {
        pthread_mutex_lock(&d->mu);
        d->stop = true;
        pthread_cond_broadcast(&d->cv_space);
        pthread_mutex_unlock(&d->mu);
        /* runs not started are withdrawn, running ones awaited */
        pthread_mutex_lock(&pool.mu);
        if (d->pool_queued)
            pool_unlink(d);
        d->pool_queued = 0;
        while (d->pool_running)
            pthread_cond_wait(&pool.cv_done, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv_ready);
        pthread_cond_destroy(&d->cv_space);
        d->n_workers = 0;
    }
    for (size_t i = 0; i < LS_RING; i++) {
        scry_buf_fini(&d->slots[i].dec);
        scry_arena_destroy(d->slots[i].md);
        free(d->slots[i].ents);
    }
    free(d->cslot.ents);
    free(d->djobs);
    free(d->dix);
}
