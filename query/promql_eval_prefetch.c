/* promql_eval_prefetch.c — a helper thread reads a series set ahead of the
 * query's thread: it walks the set, decodes each series' samples in range
 * and copies its labels into a batch, while the query's thread evaluates
 * the batch before.
 *
 * Why a pipeline and not the series split between two evaluating threads:
 * the evaluation writes to the query's context everywhere (the arena, the
 * frame of a subquery, sample counts, annotations, the groups of a
 * streaming aggregation), and its folds must run in input order to give
 * the same sums bit for bit. Here every evaluation step stays on the
 * query's thread in the same order, so results are identical by
 * construction; only the store's work moves: series set iteration, chunk
 * lookup and decoding, stale filtering — 35-75 % of the instructions of
 * the peer benchmark's queries (bench/README.md, querybench "Threads").
 *
 * The store allows this: a series set is used by one thread at a time,
 * never two (core/querier.h), and the head's locks are taken inside
 * select and per chunk, not held between calls (tsdb/head_read.c). The
 * hand-over goes through the pool's mutex and every batch through ours,
 * which orders the two threads' accesses.
 *
 * Batches: PF_SLOTS buffers cycle between the two threads, each closed at
 * PF_BATCH_POINTS points or PF_BATCH_SERIES series, so one lock round
 * covers ~16 k samples and the helper runs at most three batches ahead
 * (memory bounded by the slots, whatever the number of series). Buffers
 * live until the select ends. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "query/promql_eval_internal.h"

#define PF_SLOTS 4
#define PF_BATCH_POINTS 16384
#define PF_BATCH_SERIES 256

struct pf_series {
    size_t off, n;      /* points in the batch's buffer */
    size_t lab, n_lab;  /* labels in the batch's label array */
};

struct pf_batch {
    struct ev_pts pts;
    struct pf_series *s;
    size_t n_s, cap_s;
    struct scry_label *lab; /* while filling: offsets into str; published: pointers */
    size_t n_lab, cap_lab;
    char *str;
    size_t len_str, cap_str;
    bool full;              /* published: the consumer's until it is done with it */
};

struct pql__prefetch {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* a batch published or released, stop, exit */
    struct scry_series_set *ss;
    int64_t mint, maxt, deadline_ns;
    bool keep_stale;
    struct pf_batch b[PF_SLOTS];
    size_t cons;            /* the batch the consumer reads (sequence number) */
    size_t cons_i;          /* its next series */
    bool holding;           /* the consumer holds batch cons */
    bool stop;              /* the consumer wants no more (under mu) */
    bool done;              /* the helper published its last batch (under mu) */
    bool exited;            /* the helper no longer touches anything (under mu) */
    int rc;                 /* the helper's error (under mu, final once done) */
    struct scry_err err;
};

static void batch_reset(struct pf_batch *b)
{
    if (!b->pts.cap) {
        /* room for a full batch plus the series that crosses the mark,
         * so that the common series never makes realloc copy the batch */
        b->pts.cap = 2 * PF_BATCH_POINTS;
        b->pts.t = scry_malloc(b->pts.cap * sizeof(int64_t));
        b->pts.v = scry_malloc(b->pts.cap * sizeof(double));
    }
    b->pts.n = 0;
    b->n_s = 0;
    b->n_lab = 0;
    b->len_str = 0;
}

static size_t str_add(struct pf_batch *b, const char *z)
{
    size_t len = strlen(z) + 1, off = b->len_str;
    if (off + len > b->cap_str) {
        size_t cap = b->cap_str ? b->cap_str * 2 : 16384;
        while (cap < off + len)
            cap *= 2;
        b->str = scry_realloc(b->str, cap);
        b->cap_str = cap;
    }
    memcpy(b->str + off, z, len);
    b->len_str += len;
    return off;
}

/* Records the series whose points were appended since off. */
static void series_add(struct pf_batch *b, const struct scry_labels *ls, size_t off)
{
    if (b->n_s == b->cap_s) {
        b->cap_s = b->cap_s ? b->cap_s * 2 : PF_BATCH_SERIES;
        b->s = scry_realloc(b->s, b->cap_s * sizeof *b->s);
    }
    if (!b->lab || b->n_lab + ls->n > b->cap_lab) {
        size_t cap = b->cap_lab ? b->cap_lab * 2 : 1024;
        while (cap < b->n_lab + ls->n)
            cap *= 2;
        b->lab = scry_realloc(b->lab, cap * sizeof *b->lab);
        b->cap_lab = cap;
    }
    b->s[b->n_s++] = (struct pf_series){ off, b->pts.n - off, b->n_lab, ls->n };
    /* str moves while it grows: keep offsets, made pointers at publish */
    for (size_t i = 0; i < ls->n; i++) {
        b->lab[b->n_lab].name = (const char *)(uintptr_t)str_add(b, ls->v[i].name);
        b->lab[b->n_lab++].value = (const char *)(uintptr_t)str_add(b, ls->v[i].value);
    }
}

static void batch_seal(struct pf_batch *b)
{
    for (size_t i = 0; i < b->n_lab; i++) {
        b->lab[i].name = b->str + (uintptr_t)b->lab[i].name;
        b->lab[i].value = b->str + (uintptr_t)b->lab[i].value;
    }
}

/* Fills b from the series set; *end when the set is exhausted. */
static int batch_fill(struct pql__prefetch *pf, struct pf_batch *b, bool *end, struct scry_err *err)
{
    struct scry_series_set *ss = pf->ss;
    int rc = 0;
    batch_reset(b);
    while (b->pts.n < PF_BATCH_POINTS && b->n_s < PF_BATCH_SERIES) {
        if (!ss->ops->next(ss)) {
            *end = true;
            return ss->ops->err(ss, err);
        }
        size_t off = b->pts.n;
        rc = pql__read_series(ss->ops->samples(ss), pf->mint, pf->maxt, pf->keep_stale, &b->pts,
                              pf->deadline_ns, err);
        if (rc != 0)
            return rc;
        /* a series without points in range gives the consumer nothing to do */
        if (b->pts.n > off)
            series_add(b, ss->ops->labels(ss), off);
    }
    /* a batch of series with few points each never grows the buffer, where
     * the deadline is otherwise checked */
    return pql__deadline(pf->deadline_ns, err);
}

static void helper(void *ud)
{
    struct pql__prefetch *pf = ud;
    struct scry_err err = { 0 };
    int rc = 0;
    bool end = false;
    for (size_t seq = 0; !end && rc == 0; seq++) {
        struct pf_batch *b = &pf->b[seq % PF_SLOTS];
        pthread_mutex_lock(&pf->mu);
        while (b->full && !pf->stop)
            pthread_cond_wait(&pf->cv, &pf->mu);
        bool stop = pf->stop;
        pthread_mutex_unlock(&pf->mu);
        if (stop)
            break;
        rc = batch_fill(pf, b, &end, &err);
        batch_seal(b);
        pthread_mutex_lock(&pf->mu);
        /* what was read before an error is still handed out, as the
         * query's own thread would have evaluated it before failing */
        b->full = true;
        pthread_cond_broadcast(&pf->cv);
        pthread_mutex_unlock(&pf->mu);
    }
    pthread_mutex_lock(&pf->mu);
    pf->rc = rc;
    if (rc != 0)
        pf->err = err;
    pf->done = true;
    pf->exited = true;
    pthread_cond_broadcast(&pf->cv);
    pthread_mutex_unlock(&pf->mu);
}

struct pql__prefetch *pql__prefetch_start(struct pql_pool *pool, struct scry_series_set *ss,
                                          int64_t mint, int64_t maxt, bool keep_stale,
                                          int64_t deadline_ns)
{
    struct pql__prefetch *pf = scry_calloc(1, sizeof *pf);
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->cv, NULL);
    pf->ss = ss;
    pf->mint = mint, pf->maxt = maxt;
    pf->keep_stale = keep_stale;
    pf->deadline_ns = deadline_ns;
    if (!pql__pool_try_run(pool, helper, pf)) {
        pthread_cond_destroy(&pf->cv);
        pthread_mutex_destroy(&pf->mu);
        free(pf);
        return NULL;
    }
    return pf;
}

bool pql__prefetch_next(struct pql__prefetch *pf, struct scry_labels *ls, int64_t **t, double **v,
                        size_t *n)
{
    for (;;) {
        struct pf_batch *b = &pf->b[pf->cons % PF_SLOTS];
        if (pf->holding) {
            if (pf->cons_i < b->n_s) {
                const struct pf_series *s = &b->s[pf->cons_i++];
                *ls = (struct scry_labels){ b->lab + s->lab, s->n_lab };
                *t = b->pts.t + s->off;
                *v = b->pts.v + s->off;
                *n = s->n;
                return true;
            }
            pthread_mutex_lock(&pf->mu);
            b->full = false;
            pthread_cond_broadcast(&pf->cv);
            pthread_mutex_unlock(&pf->mu);
            pf->holding = false;
            pf->cons++;
            continue;
        }
        pthread_mutex_lock(&pf->mu);
        /* the helper publishes in sequence and sets done after its last
         * batch, so a batch not full once done will never be */
        while (!b->full && !pf->done)
            pthread_cond_wait(&pf->cv, &pf->mu);
        bool got = b->full;
        pthread_mutex_unlock(&pf->mu);
        if (!got)
            return false;
        pf->holding = true;
        pf->cons_i = 0;
    }
}

int pql__prefetch_finish(struct pql__prefetch *pf, struct scry_err *err)
{
    pthread_mutex_lock(&pf->mu);
    pf->stop = true;
    pthread_cond_broadcast(&pf->cv);
    while (!pf->exited)
        pthread_cond_wait(&pf->cv, &pf->mu);
    int rc = pf->rc;
    pthread_mutex_unlock(&pf->mu);
    if (rc != 0 && err)
        *err = pf->err;
    for (size_t i = 0; i < PF_SLOTS; i++) {
        struct pf_batch *b = &pf->b[i];
        free(b->pts.t);
        free(b->pts.v);
        free(b->s);
        free(b->lab);
        free(b->str);
    }
    pthread_cond_destroy(&pf->cv);
    pthread_mutex_destroy(&pf->mu);
    free(pf);
    return rc;
}
