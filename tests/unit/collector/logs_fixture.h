/* logs_fixture.h — shared by the log receivers' tests (test_loki_push.c,
 * test_otlp_logs.c): a real log store in a temporary directory behind a
 * real core/http server on 127.0.0.1:0, a libcurl client (http_client.h),
 * and a dump of
 * what the store holds as sorted text lines:
 *   {labels} <t_ns> <line> {metadata}
 * Include once per test binary, after cmocka.h. */
#ifndef SCRY_TESTS_LOGS_FIXTURE_H
#define SCRY_TESTS_LOGS_FIXTURE_H

#include "core/buf.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "logstore/logstore.h"

#include "http_client.h"

struct lfx {
    char dir[128];
    struct ls_store *st;
    struct scry_metrics *m;
    struct scry_http_server *srv;
    int port;
    void *recv; /* the receiver under test */
};

static struct lfx *lfx_open(void)
{
    struct lfx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/scry_test_logrecv_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct ls_opts o = { .data_dir = f->dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct scry_err err = { 0 };
    if (ls_open(&f->st, &o, &err) != 0)
        fail_msg("ls_open: %s", err.msg);
    f->m = scry_metrics_create();
    struct scry_http_opts ho = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 5000 };
    assert_int_equal(scry_http_server_create(&f->srv, &ho, &err), 0);
    return f;
}

static void lfx_start(struct lfx *f)
{
    struct scry_err err = { 0 };
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    f->port = scry_http_server_port(f->srv);
}

/* Stops the server; the caller destroys its receiver, then lfx_close. */
static void lfx_stop(struct lfx *f)
{
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    f->srv = NULL;
}

static void lfx_close(struct lfx *f)
{
    ls_close(f->st);
    scry_metrics_destroy(f->m);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything in the store, one line per entry, sorted, '\n'-joined. */
static char *lfx_dump(struct lfx *f)
{
    struct scry_queryable *qa = ls_queryable(f->st);
    struct scry_querier *q;
    struct scry_err err = { 0 };
    assert_int_equal(qa->querier(qa, NULL, INT64_MIN, INT64_MAX, &q, &err), 0);
    struct scry_stream_set *ss;
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, &err), 0);
    char **v = NULL;
    size_t n = 0;
    while (ss->ops->next(ss)) {
        struct scry_buf ls = { 0 };
        scry_labels_format(ss->ops->labels(ss), &ls);
        struct scry_entry_iter *it = ss->ops->entries(ss);
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            struct scry_buf b = { 0 }, md = { 0 };
            scry_buf_puts(&md, "");
            if (e.metadata.n)
                scry_labels_format(&e.metadata, &md);
            scry_buf_printf(&b, "%s %lld %.*s %s", ls.p, (long long)e.t_ns, (int)e.line.len,
                            e.line.p, md.p);
            v = realloc(v, (n + 1) * sizeof *v);
            v[n++] = scry_buf_take(&b);
            scry_buf_fini(&md);
        }
        assert_int_equal(it->ops->err(it, &err), 0);
        scry_buf_fini(&ls);
    }
    assert_int_equal(ss->ops->err(ss, &err), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    if (n)
        qsort(v, n, sizeof *v, cmp_line); /* v is NULL when the store is empty */
    struct scry_buf out = { 0 };
    scry_buf_puts(&out, "");
    for (size_t i = 0; i < n; i++) {
        scry_buf_printf(&out, "%s\n", v[i]);
        free(v[i]);
    }
    free(v);
    return scry_buf_take(&out);
}

static void lfx_expect(struct lfx *f, const char *want)
{
    char *got = lfx_dump(f);
    if (strcmp(got, want) != 0)
        fail_msg("store holds:\n%s\nwant:\n%s", got, want);
    free(got);
}

/* POSTs body to path on the fixture's server (http_client.h). */
static struct reply lfx_post(struct lfx *f, const char *path, const void *body, size_t len,
                             const char *const *hdrs, bool chunked)
{
    return http_request(f->port, NULL, path, body, len, hdrs, chunked);
}

static void reply_expect(struct reply *r, long status, const char *body)
{
    if (r->status != status || (body && strcmp(r->body.p, body) != 0))
        fail_msg("got %ld \"%s\", want %ld \"%s\"", r->status, r->body.p, status,
                 body ? body : "(any)");
}

#endif
