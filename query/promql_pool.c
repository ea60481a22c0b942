/* promql_pool.c — the PromQL evaluator's small shared pool of helper
 * threads (engine.h: struct pql_pool).
 *
 * A query uses at most one helper (promql_eval_prefetch.c: it reads and
 * decodes the next series while the query's own thread evaluates), and
 * only when one is idle: a query never waits for a thread, it runs alone
 * instead. So however many queries run at once, the process never runs
 * more than `threads` evaluating threads plus the callers, and a busy
 * server degrades to today's single-threaded evaluation instead of
 * oversubscribing its cores. The pool keeps its threads for its whole
 * life: a thread started per query would cost a clone and a join each
 * time, which a small query would feel. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/mem.h"
#include "query/engine.h"
#include "query/promql_eval_internal.h"

#define POOL_MAX_THREADS 16

struct pql_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a job was posted, or shutdown */
    void (*job)(void *);      /* the one posted job; NULL: none */
    void *job_ud;
    unsigned n_idle;          /* workers waiting for a job */
    unsigned long n_jobs;     /* jobs handed out so far */
    bool stop;
    pthread_t *tid;
    unsigned n_tid;
};

unsigned pql_pool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > POOL_MAX_THREADS)
        n = POOL_MAX_THREADS;
    return (unsigned)n;
}

static void *worker(void *ud)
{
    struct pql_pool *p = ud;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        p->n_idle++;
        while (!p->job && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) {
            p->n_idle--;
            break;
        }
        void (*job)(void *) = p->job;
        void *job_ud = p->job_ud;
        p->job = NULL;
        /* n_idle was taken by the poster (pql__pool_try_run) */
        pthread_mutex_unlock(&p->mu);
        job(job_ud);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pql_pool_create(struct pql_pool **out, unsigned threads, struct scry_err *err)
{
    if (!out)
        return scry_err_set(err, SCRY_EINVAL, "pql_pool_create: invalid arguments");
    *out = NULL;
    if (threads == 0)
        threads = pql_pool_default_threads();
    if (threads > POOL_MAX_THREADS)
        threads = POOL_MAX_THREADS;
    if (threads <= 1)
        return 0; /* one thread: no pool, today's evaluation */
    struct pql_pool *p = scry_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* the caller's thread is the first; the pool holds the others */
    p->tid = scry_calloc(threads - 1, sizeof *p->tid);
    for (unsigned i = 0; i + 1 < threads; i++) {
        if (pthread_create(&p->tid[i], NULL, worker, p) != 0) {
            pql_pool_destroy(p);
            return scry_err_set(err, SCRY_ENOMEM, "pql_pool_create: cannot start a thread");
        }
        p->n_tid++;
    }
    *out = p;
    return 0;
}

void pql_pool_destroy(struct pql_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    assert(!p->job); /* every query finishes before its pool goes */
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_tid; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
}

bool pql__pool_try_run(struct pql_pool *p, void (*fn)(void *), void *ud)
{
    if (!p)
        return false;
    bool ok = false;
    pthread_mutex_lock(&p->mu);
    /* n_idle counts workers not yet given a job, so a second poster never
     * overwrites a job that no worker has picked up */
    if (!p->stop && p->n_idle > 0 && !p->job) {
        p->job = fn;
        p->job_ud = ud;
        p->n_idle--;
        p->n_jobs++;
        pthread_cond_signal(&p->cv);
        ok = true;
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

unsigned long pql_pool_jobs(struct pql_pool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    unsigned long n = p->n_jobs;
    pthread_mutex_unlock(&p->mu);
    return n;
}
