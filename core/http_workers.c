/* http_workers.c — the threads that run handlers and produce streamed bodies.
 *
 * libmicrohttpd's one polling thread reads requests and writes answers; the
 * work in between (decoding the body, the handler, gzip, each piece of a
 * streamed body, an upgraded session) runs here, on a connection that MHD
 * holds suspended meanwhile (http.c, http_resp.c).
 *
 * Why not MHD's thread per connection: creating and ending a thread costs
 * ~0.3 ms of CPU here (clone, the first touches of a fresh stack, and glibc's
 * madvise of the stack at exit with its TLB shootdown), as much as a whole
 * small PromQL query. Why not MHD's thread pool running handlers inline: a
 * pool thread multiplexes many connections, so one slow query would stall
 * the others on its thread. These workers are kept: a job goes to an idle
 * worker, or to a new one when all are busy, so no job waits behind another
 * and the count of threads follows the peak concurrency (bounded by the
 * connection limit). Workers beyond WORKERS_KEEP that idle for
 * WORKERS_IDLE_S end. */
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

struct scry__http_workers {
    pthread_mutex_t mu;
    pthread_cond_t work; /* idle workers wait here */
    pthread_cond_t gone; /* a worker ended */
    struct job *q;       /* ring of jobs not yet taken */
    size_t head, len, cap;
    unsigned n_threads, n_idle;
    bool stopping;
};

static void *worker_main(void *arg)
{
    struct scry__http_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->len == 0 && !w->stopping) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_sec += WORKERS_IDLE_S;
            w->n_idle++;
            int rc = pthread_cond_timedwait(&w->work, &w->mu, &t);
            w->n_idle--;
            if (rc == ETIMEDOUT && w->len == 0 && w->n_threads > WORKERS_KEEP)
                goto out;
        }
        if (w->len == 0) /* stopping, and nothing left to run */
            break;
        struct job j = w->q[w->head];
        w->head = (w->head + 1) % w->cap;
        w->len--;
        pthread_mutex_unlock(&w->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&w->mu);
    }
out:
    w->n_threads--;
    pthread_cond_broadcast(&w->gone);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct scry__http_workers *scry__http_workers_new(void)
{
    struct scry__http_workers *w = scry_calloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->gone, NULL);
    return w;
}

bool scry__http_workers_submit(struct scry__http_workers *w, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
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
    w->q[(w->head + w->len) % w->cap] = (struct job){ fn, arg };
    w->len++;
    /* Every job not yet taken needs a waiting worker of its own. */
    bool spawn = w->n_idle < w->len;
    if (!spawn) {
        pthread_cond_signal(&w->work);
    } else {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, worker_main, w) == 0)
            w->n_threads++;
        else if (w->n_threads == 0)
            scry_panic("http: cannot start a worker thread", __FILE__, __LINE__);
        /* else: a busy worker takes the job when it is done */
        pthread_attr_destroy(&at);
    }
    pthread_mutex_unlock(&w->mu);
    return true;
}

void scry__http_workers_drain(struct scry__http_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work);
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
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->gone);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
