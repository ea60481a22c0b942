/* capture_appender.c — see capture_appender.h. */
#include "capture_appender.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/labels.h"

struct capture_app {
    struct scry_appender base;
    struct capture_store *st;
    struct capture_sample *pend;
    size_t n, cap;
};

static int cap_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct capture_app *a = (struct capture_app *)app;
    struct capture_store *st = a->st;
    /* the handlers promise valid, sorted label sets with a metric name */
    if (scry_labels_validate(ls, NULL) != 0 || !scry_labels_get(ls, "__name__"))
        return scry_err_set(err, SCRY_EIO, "handler passed an invalid label set");
    uint64_t h = scry_labels_hash(ls) | 1;
    if (*ref != 0 && *ref != h)
        st->n_bad_ref++; /* a ref reused for another series */
    *ref = h;
    for (size_t i = 0; i < st->n_reject; i++)
        if (st->reject_t[i] == t_ms)
            return scry_err_set(err, SCRY_EINVAL, "out of order sample");
    if (st->fail_t_set && st->fail_t == t_ms)
        return scry_err_set(err, SCRY_EIO, "write wal: No space left on device");
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->pend = realloc(a->pend, a->cap * sizeof *a->pend);
    }
    struct scry_buf b = { 0 };
    scry_labels_format(ls, &b);
    a->pend[a->n++] = (struct capture_sample){ scry_buf_take(&b), t_ms, v };
    return 0;
}

static void app_free(struct capture_app *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->pend[i].labels);
    free(a->pend);
    free(a);
}

static int cap_commit(struct scry_appender *app, struct scry_err *err)
{
    struct capture_app *a = (struct capture_app *)app;
    struct capture_store *st = a->st;
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (st->fail_commit) {
        rc = scry_err_set(err, SCRY_EIO, "fsync wal: Input/output error");
    } else {
        if (st->n + a->n > st->cap) {
            while (st->n + a->n > st->cap)
                st->cap = st->cap ? st->cap * 2 : 256;
            st->got = realloc(st->got, st->cap * sizeof *st->got);
        }
        for (size_t i = 0; i < a->n; i++)
            st->got[st->n++] = a->pend[i];
        a->n = 0; /* moved */
        st->n_commits++;
    }
    pthread_mutex_unlock(&st->mu);
    app_free(a);
    return rc;
}

static void cap_rollback(struct scry_appender *app)
{
    struct capture_app *a = (struct capture_app *)app;
    pthread_mutex_lock(&a->st->mu);
    a->st->n_rollbacks++;
    pthread_mutex_unlock(&a->st->mu);
    app_free(a);
}

static const struct scry_appender_ops cap_ops = {
    .append_sample = cap_append,
    .commit = cap_commit,
    .rollback = cap_rollback,
};

static int cap_begin(struct scry_appendable *store, const char *tenant,
                     struct scry_appender **out, struct scry_err *err)
{
    struct capture_store *st = (struct capture_store *)store;
    if (tenant)
        return scry_err_set(err, SCRY_EINVAL, "no tenants here");
    if (st->begin_rc)
        return scry_err_set(err, st->begin_rc,
                            st->begin_rc == SCRY_ELIMIT ? "too many appenders" : "store closed");
    struct capture_app *a = calloc(1, sizeof *a);
    a->base.ops = &cap_ops;
    a->st = st;
    *out = &a->base;
    return 0;
}

struct capture_store *capture_store_create(void)
{
    struct capture_store *st = calloc(1, sizeof *st);
    st->base.begin = cap_begin;
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

void capture_store_clear(struct capture_store *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->got[i].labels);
    st->n = 0;
}

void capture_store_destroy(struct capture_store *st)
{
    if (!st)
        return;
    capture_store_clear(st);
    free(st->got);
    pthread_mutex_destroy(&st->mu);
    free(st);
}
