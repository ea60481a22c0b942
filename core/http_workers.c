/* http_workers.c — the threads that run handlers and produce streamed bodies.
 *
 * libmicrohttpd's one polling thread reads requests and writes answers; the
 * work in between (decoding the body, the handler, gzip, each piece of a
 * streamed body, an upgraded session) runs here, on a connection that MHD
 * holds suspended meanwhile (http.c, http_resp.c).
 *
 * Why not MHD's thread per connection: creating and ending a thread costs
 * up to ~0.3 ms of CPU here when the machine is busy (clone, the first
 * touches of a fresh stack, and glibc's madvise of the stack at exit with its
 * TLB shootdown), as much as a whole small PromQL query (bench/README.md
 * "reqcpu"; on an idle machine the gain is within noise). Why not MHD's thread pool running handlers inline: a
 * pool thread multiplexes many connections, so one slow query would stall
 * the others on its thread. These workers are kept: a job goes to an idle
 * worker, or to a new one when all are busy, so no job waits behind another
 * and the count of threads follows the peak concurrency (bounded by the
 * connection limit). Workers beyond WORKERS_KEEP that idle for
 * WORKERS_IDLE_S end.
 *
 * The most recently idle worker takes the next job (a stack, each worker
 * waiting on its own condition variable): requests one after another run on
 * the same thread, with its stack and caches warm and one malloc arena. Waking
 * waiters in turn spread a benchmark's queries over four threads, and each
 * thread's arena kept its own freed memory: twice the peak RSS. */
#include "core/http_internal.h"
#include "core/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define WORKERS_KEEP 4u
#define WORKERS_IDLE_S 30

struct job {
    void (*fn)(void *);
    void *arg;
};

struct idle { /* a waiting worker; lives on its stack */
    pthread_cond_t cv;
    struct job job; /* handed over by submit, which also unlinks it */
    struct idle *next;
};

struct scry__http_workers {
    pthread_mutex_t mu;
    pthread_cond_t gone; /* a worker ended */
    struct idle *idle;   /* waiting workers, the most recent first */
    struct job *q;       /* ring of jobs no worker could take yet (a thread */
    size_t head, len, cap; /* could not be started): busy workers take them */
    unsigned n_threads;
    bool stopping;
};

struct start {
    struct scry__http_workers *w;
    struct job first;
};

static bool take_queued(struct scry__http_workers *w, struct job *j)
{
    if (w->len == 0)
        return false;
    *j = w->q[w->head];
    w->head = (w->head + 1) % w->cap;
    w->len--;
    return true;
}

static void unlink_idle(struct scry__http_workers *w, struct idle *me)
{
    for (struct idle **p = &w->idle; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            return;
        }
}

/* Runs its first job, then waits for more. */
static void *worker_main(void *arg)
{
    struct start *st = arg;
    struct scry__http_workers *w = st->w;
    struct job j = st->first;
    free(st);
    struct idle me = { 0 };
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&me.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (j.fn || take_queued(w, &j)) {
            pthread_mutex_unlock(&w->mu);
            j.fn(j.arg);
            pthread_mutex_lock(&w->mu);
            j.fn = NULL;
            continue;
        }
        if (w->stopping)
            break;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += WORKERS_IDLE_S;
        me.job.fn = NULL;
        me.next = w->idle;
        w->idle = &me;
        int rc = 0;
        while (!me.job.fn && !w->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&me.cv, &w->mu, &t);
        if (me.job.fn) {
            j = me.job;
            continue;
        }
        unlink_idle(w, &me);
        if (rc == ETIMEDOUT && !w->stopping && w->n_threads > WORKERS_KEEP)
            break;
    }
    w->n_threads--;
    pthread_cond_broadcast(&w->gone);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&me.cv);
    return NULL;
}

struct scry__http_workers *scry__http_workers_new(void)
{
    struct scry__http_workers *w = scry_calloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->gone, NULL);
    return w;
}

static void enqueue(struct scry__http_workers *w, struct job j)
{
    if (w->len == w->cap) { /* grow the ring, unrolling it */
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct job *q = scry_calloc(cap, sizeof *q);
        for (size_t i = 0; i < w->len; i++)
            q[i] = w->q[(w->head + i) % w->cap];
        free(w->q);
        w->q = q;
        w->cap = cap;
        w->head = 0;
    }
    w->q[(w->head + w->len) % w->cap] = j;
    w->len++;
}

bool scry__http_workers_submit(struct scry__http_workers *w, void (*fn)(void *), void *arg)
{
    struct job j = { fn, arg };
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    if (w->idle) {
        struct idle *i = w->idle;
        w->idle = i->next;
        i->job = j;
        pthread_cond_signal(&i->cv);
    } else {
        struct start *st = scry_malloc(sizeof *st);
        *st = (struct start){ w, j };
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, worker_main, st) == 0) {
            w->n_threads++;
        } else {
            free(st);
            if (w->n_threads == 0)
                scry_panic("http: cannot start a worker thread", __FILE__, __LINE__);
            enqueue(w, j); /* a busy worker takes it when it is done */
        }
        pthread_attr_destroy(&at);
    }
    pthread_mutex_unlock(&w->mu);
    return true;
}

void scry__http_workers_drain(struct scry__http_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    for (struct idle *i = w->idle; i; i = i->next)
        pthread_cond_signal(&i->cv);
    while (w->n_threads > 0)
        pthread_cond_wait(&w->gone, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void scry__http_workers_free(struct scry__http_workers *w)
{
    if (!w)
        return;
    scry__http_workers_drain(w);
    free(w->q);
    pthread_cond_destroy(&w->gone);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
