/* scrape_fixture.h — shared by the test_scrape_*.c binaries: a capturing
 * store behind the appender seam, a scriptable target on core/http, and
 * small helpers. Header-only (static functions), one copy per binary. */
#ifndef SCRY_TEST_SCRAPE_FIXTURE_H
#define SCRY_TEST_SCRAPE_FIXTURE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/expfmt.h"
#include "collector/scrape.h"
#include "core/appender.h"
#include "core/config.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/mem.h"

#define STALE_BITS 0x7ff0000000000002ULL

static inline uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- capturing store ------------------------------------------------------ */

struct cap_sample {
    char *labels; /* scry_labels_format */
    int64_t t_ms;
    double v;
};

struct cap_store {
    struct scry_appendable base;
    pthread_mutex_t mu;
    struct cap_sample *v;
    size_t n, cap;
    int commits, rollbacks, bad_ref;
};

struct cap_app {
    struct scry_appender base;
    struct cap_store *st;
    struct cap_sample *v;
    size_t n, cap;
};

static inline int cap_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    if (scry_labels_validate(ls, NULL) != 0 || !scry_labels_get(ls, "__name__"))
        return scry_err_set(err, SCRY_EIO, "invalid label set");
    uint64_t h = scry_labels_hash(ls) | 1;
    if (*ref && *ref != h)
        a->st->bad_ref++;
    *ref = h;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    struct scry_buf b = { 0 };
    scry_labels_format(ls, &b);
    a->v[a->n++] = (struct cap_sample){ scry_buf_take(&b), t_ms, v };
    return 0;
}

static inline void cap_app_free(struct cap_app *a, bool keep)
{
    if (!keep)
        for (size_t i = 0; i < a->n; i++)
            free(a->v[i].labels);
    free(a->v);
    free(a);
}

static inline int cap_commit(struct scry_appender *app, struct scry_err *err)
{
    struct cap_app *a = (struct cap_app *)app;
    struct cap_store *st = a->st;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < a->n; i++) {
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 1024;
            st->v = realloc(st->v, st->cap * sizeof *st->v);
        }
        st->v[st->n++] = a->v[i];
    }
    st->commits++;
    pthread_mutex_unlock(&st->mu);
    cap_app_free(a, true);
    return 0;
}

static inline void cap_rollback(struct scry_appender *app)
{
    struct cap_app *a = (struct cap_app *)app;
    pthread_mutex_lock(&a->st->mu);
    a->st->rollbacks++;
    pthread_mutex_unlock(&a->st->mu);
    cap_app_free(a, false);
}

static const struct scry_appender_ops cap_ops = {
    .append_sample = cap_append, .commit = cap_commit, .rollback = cap_rollback,
};

static inline int cap_begin(struct scry_appendable *s, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    struct cap_app *a = calloc(1, sizeof *a);
    a->base.ops = &cap_ops;
    a->st = (struct cap_store *)s;
    *out = &a->base;
    return 0;
}

static inline struct cap_store *cap_create(void)
{
    struct cap_store *st = calloc(1, sizeof *st);
    st->base.begin = cap_begin;
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

static inline void cap_destroy(struct cap_store *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].labels);
    free(st->v);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Samples of one series (labels exactly as scry_labels_format writes them),
 * in commit order, copied into out (up to max); returns how many there are. */
static inline size_t cap_series(struct cap_store *st, const char *labels, struct cap_sample *out,
                         size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n; i++) {
        if (strcmp(st->v[i].labels, labels) != 0)
            continue;
        if (n < max)
            out[n] = (struct cap_sample){ NULL, st->v[i].t_ms, st->v[i].v };
        n++;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

static inline size_t cap_count_prefix(struct cap_store *st, const char *prefix)
{
    size_t n = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n; i++)
        n += strncmp(st->v[i].labels, prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static inline int cap_commits(struct cap_store *st)
{
    pthread_mutex_lock(&st->mu);
    int n = st->commits;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static inline bool wait_commits(struct cap_store *st, int n, int timeout_ms)
{
    for (int w = 0; w < timeout_ms; w += 10) {
        if (cap_commits(st) >= n)
            return true;
        sleep_ms(10);
    }
    return cap_commits(st) >= n;
}

/* ---- a scriptable target ---------------------------------------------------- */

#define TSRV_BODIES 8

struct tsrv {
    struct scry_http_server *srv;
    int port;
    pthread_mutex_t mu;
    const char *bodies[TSRV_BODIES]; /* served in turn; the last one repeats */
    int status[TSRV_BODIES];         /* 0 → 200 */
    size_t n_bodies;
    const char *ctype;
    int hits;
    char accept[512], ae[64], ua[128], auth[256], timeout_hdr[32], query[256], path[128];
};

static inline void tsrv_handler(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct tsrv *s = ud;
    pthread_mutex_lock(&s->mu);
    size_t i = (size_t)s->hits < s->n_bodies ? (size_t)s->hits : s->n_bodies - 1;
    s->hits++;
#define TSRV_HDR(field, name)                                                                 \
    snprintf(s->field, sizeof s->field, "%s",                                                  \
             scry_http_header(req, name) ? scry_http_header(req, name) : "")
    TSRV_HDR(accept, "Accept");
    TSRV_HDR(ae, "Accept-Encoding");
    TSRV_HDR(ua, "User-Agent");
    TSRV_HDR(auth, "Authorization");
    TSRV_HDR(timeout_hdr, "X-Prometheus-Scrape-Timeout-Seconds");
    snprintf(s->path, sizeof s->path, "%s", req->path);
    s->query[0] = '\0';
    for (size_t k = 0; k < req->n_params; k++) {
        size_t n = strlen(s->query);
        snprintf(s->query + n, sizeof s->query - n, "%s%s=%s", k ? "&" : "",
                 req->params[k].key, req->params[k].value);
    }
    resp->status = s->status[i] ? s->status[i] : 200;
    resp->content_type = s->ctype ? s->ctype : "text/plain; version=0.0.4";
    scry_buf_puts(&resp->body, s->bodies[i] ? s->bodies[i] : "");
    pthread_mutex_unlock(&s->mu);
}

static inline struct tsrv *tsrv_start(void)
{
    struct tsrv *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->n_bodies = 1;
    struct scry_http_opts o = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 2000 };
    struct scry_err err;
    if (scry_http_server_create(&s->srv, &o, &err) != 0)
        abort();
    scry_http_server_route(s->srv, NULL, "/metrics", tsrv_handler, s, 0);
    scry_http_server_route(s->srv, NULL, "/other/path", tsrv_handler, s, 0);
    if (scry_http_server_start(s->srv, &err) != 0)
        abort();
    s->port = scry_http_server_port(s->srv);
    return s;
}

static inline void tsrv_set(struct tsrv *s, size_t n, const char *const *bodies, const int *status)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        s->bodies[i] = bodies[i];
        s->status[i] = status ? status[i] : 0;
    }
    s->n_bodies = n;
    s->hits = 0;
    pthread_mutex_unlock(&s->mu);
}

/* A copy of one of the recorded request fields, taken under the lock (the
 * server may still be answering a request the manager gave up on). */
#define TSRV_FIELD(s, field) tsrv_copy((s), (s)->field)
static inline const char *tsrv_copy(struct tsrv *s, const char *field)
{
    static _Thread_local char buf[512];
    pthread_mutex_lock(&s->mu);
    snprintf(buf, sizeof buf, "%s", field);
    pthread_mutex_unlock(&s->mu);
    return buf;
}

static inline void tsrv_stop(struct tsrv *s)
{
    scry_http_server_stop(s->srv);
    scry_http_server_destroy(s->srv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- config and HTTP client --------------------------------------------- */

static inline struct scry_config *load_cfg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline struct scry_config *load_cfg(const char *fmt, ...)
{
    struct scry_buf b = { 0 };
    va_list ap;
    va_start(ap, fmt);
    scry_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    if (scry_config_load_string("test.yml", b.p, b.len, &cfg, &err) != 0) {
        char m[1024];
        scry_err_format(&err, m, sizeof m);
        fprintf(stderr, "config: %s\n---\n%s\n", m, b.p);
        abort();
    }
    scry_buf_fini(&b);
    return cfg;
}

static inline size_t http_sink(char *p, size_t size, size_t n, void *ud)
{
    scry_buf_put(ud, p, size * n);
    return size * n;
}

/* GETs url into out (reset first); returns the HTTP status or -1. */
static inline long http_get(const char *url, struct scry_buf *out)
{
    scry_buf_reset(out);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long code = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

#endif
