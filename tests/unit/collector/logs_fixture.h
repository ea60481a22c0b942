/* logs_fixture.h — shared by the log receivers' tests (test_loki_push.c,
 * test_otlp_logs.c): a real log store in a temporary directory behind a
 * real core/http server on 127.0.0.1:0, a libcurl client, and a dump of
 * what the store holds as sorted text lines:
 *   {labels} <t_ns> <line> {metadata}
 * Include once per test binary, after cmocka.h. */
#ifndef SCRY_TESTS_LOGS_FIXTURE_H
#define SCRY_TESTS_LOGS_FIXTURE_H

#include <curl/curl.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/metrics.h"
#include "core/querier.h"
#include "logstore/logstore.h"

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

struct reply {
    long status;
    struct scry_buf body, hdrs;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

struct upload {
    const char *p;
    size_t len, off;
};

static size_t on_read(char *out, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;
    if (k > 100)
        k = 100; /* many small chunks */
    if (k > u->len - u->off)
        k = u->len - u->off;
    memcpy(out, u->p + u->off, k);
    u->off += k;
    return k;
}

/* POSTs body to path with the headers (NULL-terminated); chunked sends it
 * with Transfer-Encoding: chunked, as the OpenTelemetry JS exporters do. */
static struct reply lfx_post(struct lfx *f, const char *path, const void *body, size_t len,
                             const char *const *hdrs, bool chunked)
{
    struct reply r = { 0 };
    scry_buf_puts(&r.body, "");
    scry_buf_puts(&r.hdrs, "");
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    for (size_t k = 0; hdrs && hdrs[k]; k++)
        h = curl_slist_append(h, hdrs[k]);
    struct upload u = { body, len, 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (chunked) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static void reply_expect(struct reply *r, long status, const char *body)
{
    if (r->status != status || (body && strcmp(r->body.p, body) != 0))
        fail_msg("got %ld \"%s\", want %ld \"%s\"", r->status, r->body.p, status,
                 body ? body : "(any)");
}

static void reply_fini(struct reply *r)
{
    scry_buf_fini(&r->body);
    scry_buf_fini(&r->hdrs);
}

static char *gzip_of(const void *p, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 32;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

#endif
