/* remote_write_http.c — POST /api/v1/write: the remote_write 1.0 receiver.
 *
 * shared/contracts/remote-write.md is the contract; in short:
 *   204  every sample written (also: no series, only metadata)
 *   400  undecodable body (snappy or protobuf), invalid labels, samples the
 *        store refused (out of order, duplicate with another value, too
 *        old), native histograms; the good samples of the request are still
 *        committed and the message counts the rejected ones and names the
 *        first, as Prometheus's "partial write" does. 4xx is permanent for
 *        senders, so a bad sample cannot make them retry forever.
 *   413  body over the limit (core/http answers for the compressed size)
 *   415  a Content-Type other than application/x-protobuf, a proto= other
 *        than prometheus.WriteRequest (a 2.0 sender: its message would decode
 *        as an empty 1.0 request and be lost under a 204), a 2.x
 *        X-Prometheus-Remote-Write-Version, a Content-Encoding not snappy
 *   500  the store failed (begin, a non-sample error, commit): retryable
 * Bodies are plain text, as Prometheus writes them.
 *
 * One appender per request: the request is the unit that is committed or
 * rolled back. An undecodable body rolls back whatever its series before
 * the bad byte appended, so a 400 for a corrupt body means nothing was
 * written. Within a series the store's ref is reused from the first sample
 * on; across series and requests it is not (ref = 0), since remote_write
 * requests come in any order from many senders and a per-request cache
 * would rarely hit.
 *
 * Labels arrive as slices into the body; the store wants NUL-terminated
 * strings, so each series' labels are copied into one scratch buffer that
 * is reused for the next series (no allocation per series once warm). */
#include "collector/remote_write.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collector/reply_internal.h"
#include "core/mem.h"

#define DEFAULT_MAX_BYTES (32u << 20)
#define LOG_INTERVAL_MS 10000

struct col_rw {
    struct scry_appendable *store;
    size_t max_body_bytes, max_decoded_bytes;
    struct col__reply reply; /* counts and logs answers; no Retry-After */
    struct scry_metric *accepted, *rejected; /* NULL without a registry */
};

/* State of one request, for the per-series callback. */
struct req {
    struct col_rw *rw;
    struct scry_appender *app;
    struct scry_buf strs;   /* the current series' label strings, NUL-separated */
    struct scry_label *lv;  /* the current series' labels, pointing into strs */
    size_t cap_lv;
    uint64_t n_accepted, n_rejected;
    struct scry_buf first;  /* why the first rejected sample was rejected */
    bool fatal;             /* the store failed: roll back, answer 500 */
};

/* ---- per series --------------------------------------------------------- */

/* Remembers the first rejection as "reason: series @ t"; later ones only count. */
static void reject(struct req *q, uint64_t n, const char *reason, const struct scry_labels *ls,
                   const struct col_rw_series *s, int64_t t_ms, bool with_t)
{
    q->n_rejected += n;
    if (q->first.len > 0 || n == 0)
        return;
    scry_buf_printf(&q->first, "%s", reason);
    if (ls && ls->n) {
        scry_buf_puts(&q->first, ": ");
        scry_labels_format(ls, &q->first);
    } else {
        scry_buf_printf(&q->first, " (series at byte %zu)", s->offset);
    }
    if (with_t)
        scry_buf_printf(&q->first, " @ %" PRId64, t_ms);
}

/* Copies the wire labels into NUL-terminated strings and checks them. The
 * set is built even when invalid, so the message can show it. */
static int build_labels(struct req *q, const struct col_rw_series *s, struct scry_labels *ls,
                        struct scry_err *err)
{
    if (s->n_labels > q->cap_lv) {
        q->cap_lv = s->n_labels * 2;
        q->lv = scry_realloc(q->lv, q->cap_lv * sizeof *q->lv);
    }
    size_t total = 0;
    for (size_t i = 0; i < s->n_labels; i++)
        total += s->labels[i].name.len + s->labels[i].value.len + 2;
    scry_buf_reset(&q->strs);
    scry_buf_reserve(&q->strs, total); /* no reallocation below: pointers stay valid */
    const char *base = q->strs.p;
    int rc = 0;
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct col_rw_label *l = &s->labels[i];
        /* A NUL inside a string would silently cut it short below. */
        if (rc == 0 && (memchr(l->name.p, 0, l->name.len) || memchr(l->value.p, 0, l->value.len)))
            rc = scry_err_set(err, SCRY_EINVAL, "label %zu contains a NUL byte", i);
        q->lv[i].name = q->strs.p + q->strs.len;
        scry_buf_put(&q->strs, l->name.p, l->name.len);
        scry_buf_putc(&q->strs, 0);
        q->lv[i].value = q->strs.p + q->strs.len;
        scry_buf_put(&q->strs, l->value.p, l->value.len);
        scry_buf_putc(&q->strs, 0);
    }
    SCRY_ASSERT(q->strs.p == base || s->n_labels == 0);
    (void)base;
    *ls = (struct scry_labels){ q->lv, s->n_labels };
    if (rc == 0)
        rc = scry_labels_validate(ls, err);
    if (rc == 0 && !scry_labels_get(ls, SCRY_METRIC_NAME))
        rc = scry_err_set(err, SCRY_EINVAL, "missing metric name (label __name__)");
    return rc;
}

static int on_series(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    struct req *q = ud;
    struct scry_labels ls;
    struct scry_err e = { 0 };
    if (build_labels(q, s, &ls, &e) != 0) {
        char reason[SCRY_ERR_MSG_MAX + 32];
        snprintf(reason, sizeof reason, "invalid labels: %s", e.msg);
        reject(q, s->n_samples + s->n_histograms, reason, &ls, s, 0, false);
        return 0;
    }
    uint64_t ref = 0;
    for (size_t i = 0; i < s->n_samples; i++) {
        const struct col_rw_sample *smp = &s->samples[i];
        int rc = scry_append_sample(q->app, &ref, &ls, smp->t_ms, smp->v, &e);
        if (rc == 0) {
            q->n_accepted++;
        } else if (rc == SCRY_EINVAL || rc == SCRY_ELIMIT) {
            /* This sample's fault (out of order, duplicate, too old, a
             * series limit): a retry would fail the same way. */
            reject(q, 1, e.msg, &ls, s, smp->t_ms, true);
        } else {
            q->fatal = true;
            if (err)
                *err = e;
            return rc;
        }
    }
    if (s->n_histograms)
        reject(q, s->n_histograms, "native histograms are not supported", &ls, s, 0, false);
    return 0;
}

/* ---- the request -------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static void answer(struct col_rw *rw,
                                                         struct scry_http_resp *resp,
                                                         int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    col__reply_vtext(&rw->reply, resp, status, "text/plain; charset=utf-8", true, fmt, ap);
    va_end(ap);
}

/* application/x-protobuf, optionally with proto=prometheus.WriteRequest;
 * missing means 1.0 (Prometheus's receiver is lenient, so are we). */
static bool content_type_ok(const char *ct)
{
    static const char want[] = "application/x-protobuf";
    if (!ct || !*ct)
        return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    const char *p = ct + sizeof want - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t klen = (size_t)(p - k);
        while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
            klen--;
        if (*p != '=')
            continue; /* a parameter without value: ignore */
        const char *v = ++p;
        while (*p && *p != ';')
            p++;
        size_t vlen = (size_t)(p - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
            v++, vlen -= 2;
        if (klen == 5 && strncasecmp(k, "proto", 5) == 0 &&
            !(vlen == 23 && memcmp(v, "prometheus.WriteRequest", 23) == 0))
            return false;
    }
    return *p == 0;
}

/* 0.1.0 is 1.0's version; 1.x is accepted too; 2.0.0 and later are not 1.0. */
static bool version_ok(const char *v)
{
    if (!v || !*v)
        return true;
    char *end;
    unsigned long major = strtoul(v, &end, 10);
    return end != v && major < 2;
}

/* Finds the protobuf bytes: core/http has undone Content-Encoding: snappy;
 * without the header the body is still snappy (the lenient default). */
static int body_bytes(struct col_rw *rw, struct scry_http_req *req, struct scry_http_resp *resp,
                      const char **out, size_t *out_len)
{
    const char *enc = scry_http_header(req, "Content-Encoding");
    struct scry_err err = { 0 };
    if (enc && *enc && strcasecmp(enc, "snappy") != 0) {
        answer(rw, resp, 415, "unsupported Content-Encoding \"%s\": remote_write bodies are snappy",
               enc);
        return -1;
    }
    if (enc && *enc) {
        if (req->body_len > rw->max_decoded_bytes) {
            answer(rw, resp, 413, "decoded body of %zu bytes exceeds the limit of %zu bytes",
                   req->body_len, rw->max_decoded_bytes);
            return -1;
        }
        *out = req->body;
        *out_len = req->body_len;
        return 0;
    }
    int rc = scry_http_body_decode(req->arena, "snappy", req->body, req->body_len,
                                   rw->max_decoded_bytes, out, out_len, &err);
    if (rc == SCRY_ELIMIT)
        answer(rw, resp, 413, "%s", err.msg);
    else if (rc != 0)
        answer(rw, resp, 400, "%s", err.msg);
    return rc == 0 ? 0 : -1;
}

static void handle_write(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_rw *rw = ud;
    scry_http_resp_header(resp, "X-Prometheus-Remote-Write-Version", "0.1.0");
    const char *ct = scry_http_header(req, "Content-Type");
    if (!content_type_ok(ct)) {
        answer(rw, resp, 415,
               "unsupported Content-Type \"%s\": want application/x-protobuf "
               "(remote_write 1.0, proto=prometheus.WriteRequest)", ct);
        return;
    }
    const char *ver = scry_http_header(req, "X-Prometheus-Remote-Write-Version");
    if (!version_ok(ver)) {
        answer(rw, resp, 415,
               "unsupported remote_write version \"%s\": this receiver speaks 1.0 (0.1.0)", ver);
        return;
    }
    const char *body;
    size_t len;
    if (body_bytes(rw, req, resp, &body, &len) != 0)
        return;

    struct scry_err err = { 0 };
    struct req q = { .rw = rw };
    /* Multi-tenancy: the tenant will come from X-Scope-OrgID here. */
    if (scry_appender_begin(rw->store, NULL, &q.app, &err) != 0) {
        answer(rw, resp, 500, "store: %s", err.msg);
        return;
    }
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    int rc = col_rw_decode(&d, body, len, on_series, &q, &err);
    if (rc != 0) {
        scry_appender_rollback(q.app);
        if (q.fatal)
            answer(rw, resp, 500, "store: %s", err.msg);
        else
            answer(rw, resp, 400, "undecodable WriteRequest: %s", err.msg);
    } else if (scry_appender_commit(q.app, &err) != 0) {
        answer(rw, resp, 500, "store commit: %s", err.msg);
    } else {
        if (rw->accepted) {
            scry_metric_add(rw->accepted, (double)q.n_accepted);
            scry_metric_add(rw->rejected, (double)q.n_rejected);
        }
        if (q.n_rejected)
            answer(rw, resp, 400, "partial write: %" PRIu64 " of %" PRIu64
                   " samples rejected (%" PRIu64 " written); first: %s", q.n_rejected,
                   q.n_rejected + q.n_accepted, q.n_accepted, q.first.p);
        else
            answer(rw, resp, 204, NULL);
    }
    col_rw_decoder_fini(&d);
    scry_buf_fini(&q.strs);
    scry_buf_fini(&q.first);
    free(q.lv);
}

/* ---- registration ------------------------------------------------------- */

int col_rw_register(struct col_rw **out, struct scry_http_server *srv,
                    struct scry_appendable *store, const struct col_rw_opts *opts,
                    struct scry_err *err)
{
    if (!out || !srv || !store)
        return scry_err_set(err, SCRY_EINVAL, "remote_write: missing server or store");
    struct col_rw *rw = scry_calloc(1, sizeof *rw);
    rw->store = store;
    rw->max_body_bytes = opts && opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BYTES;
    rw->max_decoded_bytes =
        opts && opts->max_decoded_bytes ? opts->max_decoded_bytes : DEFAULT_MAX_BYTES;
    col__reply_init(&rw->reply, "remote_write", "rw", "write refused", 0,
                    opts ? opts->log : NULL, LOG_INTERVAL_MS);
    struct scry_metrics *m = opts ? opts->metrics : NULL;
    if (m) {
        static const char *const result[] = { "result" }, *const code[] = { "code" };
        struct scry_metric_family *f = scry_metrics_family(
            m, SCRY_METRIC_COUNTER, "scry_remote_write_samples_total",
            "Samples received by remote_write, by result (accepted or rejected).", result, 1,
            NULL, 0);
        const char *acc[] = { "accepted" }, *rej[] = { "rejected" };
        rw->accepted = scry_metric_with(f, acc);
        rw->rejected = scry_metric_with(f, rej);
        rw->reply.requests =
            scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_remote_write_requests_total",
                                "remote_write requests answered, by status code.", code, 1,
                                NULL, 0);
    }
    scry_http_server_route(srv, "POST", "/api/v1/write", handle_write, rw, rw->max_body_bytes);
    *out = rw;
    return 0;
}

void col_rw_destroy(struct col_rw *rw)
{
    if (!rw)
        return;
    col__reply_fini(&rw->reply);
    free(rw);
}
