/* loki_push_http.c — POST /loki/api/v1/push, Loki's push endpoint.
 *
 * shared/contracts/grafana-loki.md §8 is the contract; in short:
 *   204  every entry stored (also an empty push, and duplicates Loki drops)
 *   400  undecodable body; or streams/entries refused (invalid labels, line
 *        too long, out of order): the good entries are committed and the
 *        body says how many were refused and why, first reason first
 *        (Loki's distributor keeps the valid streams and answers 400)
 *   413  body over the limit, compressed or decoded
 *   429  the store's appender refuses to begin with SCRY_ELIMIT
 *   503  the store is not ready (start-up) or fails: Retry-After; Promtail,
 *        Alloy and the Docker driver retry 429 and 5xx
 * Bodies are plain text like Loki's. Content-Type application/json is the
 * JSON form; anything else (and none: scry is lenient where Loki is not)
 * is snappy-compressed protobuf. core/http has already undone gzip/deflate
 * and snappy Content-Encodings: with Content-Encoding: snappy the body is
 * the protobuf itself, otherwise it is still snappy-compressed. */
#include "collector/loki_push.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collector/reply_internal.h"
#include "core/mem.h"

#define DEFAULT_MAX_BYTES (32u << 20)
#define DEFAULT_RETRY_AFTER_S 5
#define DEFAULT_MAX_LINE (256u << 10)
#define LOG_INTERVAL_MS 10000

struct col_loki {
    struct scry_appendable *store;
    size_t max_body_bytes;
    struct col_loki_limits lim;
    struct col__reply reply; /* counts and logs answers, Retry-After */
    struct scry_metric *accepted, *rejected; /* NULL without a registry */
};

/* Plain text with a newline, as Loki answers; 204 has no body. */
static void answer(struct col_loki *l, struct scry_http_resp *resp, int status, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void answer(struct col_loki *l, struct scry_http_resp *resp, int status, const char *fmt,
                   ...)
{
    if (status == 204) {
        resp->status = status;
        col__reply_count(&l->reply, status);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    col__reply_vtext(&l->reply, resp, status, "text/plain; charset=utf-8", true, fmt, ap);
    va_end(ap);
}

static bool is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 16 && strncasecmp(ct, "application/json", n) == 0;
}

/* What the request did, for the answer. */
struct tally {
    uint64_t n_entries, n_rejected;
    struct scry_buf first; /* the first refusal, with where */
};

static void refuse(struct tally *t, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct tally *t, uint64_t n, const char *fmt, ...)
{
    t->n_rejected += n;
    if (t->first.len)
        return;
    va_list ap;
    va_start(ap, fmt);
    scry_buf_vprintf(&t->first, fmt, ap);
    va_end(ap);
}

/* Appends one stream. 0, or a store error that must fail the request. */
static int push_stream(struct col_loki *l, struct scry_appender *app, size_t si,
                       const struct col_loki_stream *st, struct tally *t, struct scry_err *err)
{
    struct scry_err e = { 0 };
    t->n_entries += st->n_entries;
    if (st->labels_error) {
        refuse(t, st->n_entries, "stream %zu: %s", si, st->labels_error);
        return 0;
    }
    if (col_loki_validate_stream(&l->lim, &st->labels, &e) != 0) {
        struct scry_buf b = { 0 };
        scry_labels_format(&st->labels, &b);
        refuse(t, st->n_entries, "stream %zu %s: %s", si, b.p ? b.p : "{}", e.msg);
        scry_buf_fini(&b);
        return 0;
    }
    uint64_t ref = 0;
    for (size_t ei = 0; ei < st->n_entries; ei++) {
        const struct scry_log_entry *en = &st->entries[ei];
        if (en->line.len > l->lim.max_line_bytes) {
            refuse(t, 1, "stream %zu entry %zu: Max entry size '%zu' bytes exceeded while "
                   "adding an entry with length '%zu' bytes", si, ei, l->lim.max_line_bytes,
                   en->line.len);
            continue;
        }
        int rc = scry_append_log(app, &ref, &st->labels, en, &e);
        if (rc == SCRY_EINVAL || rc == SCRY_ELIMIT) {
            /* Refused by the store (out of order, too long): Loki drops the
             * entry, keeps the rest and answers 400 naming it. */
            refuse(t, 1, "stream %zu entry %zu (timestamp %" PRId64 "): %s", si, ei, en->t_ns,
                   e.msg);
        } else if (rc != 0) {
            *err = e;
            return rc;
        }
    }
    return 0;
}

static void handle_push(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct col_loki *l = ud;
    struct scry_err err = { 0 };
    struct col_loki_push p;
    int rc;
    const char *ce = scry_http_header(req, "Content-Encoding");
    if (ce && *ce && strcasecmp(ce, "identity") && strcasecmp(ce, "gzip") &&
        strcasecmp(ce, "x-gzip") && strcasecmp(ce, "deflate") && strcasecmp(ce, "snappy")) {
        answer(l, resp, 400, "Content-Encoding \"%.64s\" not supported", ce);
        return;
    }
    if (is_json(scry_http_header(req, "Content-Type"))) {
        rc = col_loki_decode_json(req->arena, req->body, req->body_len, &p, &err);
    } else {
        const char *body = req->body;
        size_t len = req->body_len;
        if (!ce || strcasecmp(ce, "snappy") != 0) {
            rc = scry_http_body_decode(req->arena, "snappy", req->body, req->body_len,
                                       l->max_body_bytes, &body, &len, &err);
            if (rc == SCRY_ELIMIT) {
                answer(l, resp, 413, "%s", err.msg);
                return;
            }
            if (rc != 0) {
                answer(l, resp, 400, "loki push: the protobuf body must be snappy-compressed: "
                       "%s", err.msg);
                return;
            }
        }
        rc = col_loki_decode_proto(req->arena, body, len, &p, &err);
    }
    if (rc != 0) {
        answer(l, resp, 400, "%s", err.msg);
        return;
    }
    struct scry_appender *app;
    rc = scry_appender_begin(l->store, NULL, &app, &err);
    if (rc == SCRY_ELIMIT) {
        answer(l, resp, 429, "store: %s", err.msg);
        return;
    }
    if (rc != 0) {
        answer(l, resp, 503, "store: %s", err.msg);
        return;
    }
    struct tally t = { 0 };
    for (size_t si = 0; si < p.n_streams && rc == 0; si++)
        rc = push_stream(l, app, si, &p.streams[si], &t, &err);
    if (rc != 0) {
        scry_appender_rollback(app);
        answer(l, resp, 503, "store: %s", err.msg);
    } else if (scry_appender_commit(app, &err) != 0) {
        answer(l, resp, 503, "store commit: %s", err.msg);
    } else {
        if (l->accepted) {
            scry_metric_add(l->accepted, (double)(t.n_entries - t.n_rejected));
            scry_metric_add(l->rejected, (double)t.n_rejected);
        }
        if (t.n_rejected)
            answer(l, resp, 400, "%" PRIu64 " of %" PRIu64 " entries rejected (%" PRIu64
                   " written); first: %s", t.n_rejected, t.n_entries,
                   t.n_entries - t.n_rejected, t.first.p);
        else
            answer(l, resp, 204, " ");
    }
    scry_buf_fini(&t.first);
}

int col_loki_register(struct col_loki **out, struct scry_http_server *srv,
                      struct scry_appendable *store, const struct col_loki_opts *opts,
                      struct scry_err *err)
{
    if (!out || !srv || !store)
        return scry_err_set(err, SCRY_EINVAL, "loki push: missing server or store");
    struct col_loki *l = scry_calloc(1, sizeof *l);
    l->store = store;
    l->max_body_bytes = opts && opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BYTES;
    if (opts)
        l->lim = opts->limits;
    if (!l->lim.max_line_bytes)
        l->lim.max_line_bytes = DEFAULT_MAX_LINE;
    col__reply_init(&l->reply, "loki", "loki", "push refused",
                    opts && opts->retry_after_s ? opts->retry_after_s : DEFAULT_RETRY_AFTER_S,
                    opts ? opts->log : NULL, LOG_INTERVAL_MS);
    struct scry_metrics *m = opts ? opts->metrics : NULL;
    if (m) {
        static const char *const result[] = { "result" }, *const code[] = { "code" };
        struct scry_metric_family *f = scry_metrics_family(
            m, SCRY_METRIC_COUNTER, "scry_loki_push_entries_total",
            "Log entries received by the Loki push endpoint, by result (accepted or rejected).",
            result, 1, NULL, 0);
        const char *acc[] = { "accepted" }, *rej[] = { "rejected" };
        l->accepted = scry_metric_with(f, acc);
        l->rejected = scry_metric_with(f, rej);
        l->reply.requests =
            scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_loki_push_requests_total",
                                "Loki push requests answered, by status code.", code, 1, NULL, 0);
    }
    scry_http_server_route(srv, "POST", "/loki/api/v1/push", handle_push, l, l->max_body_bytes);
    scry_http_server_route_own_encoding(srv); /* Loki's 400, not core's 415 */
    scry_http_server_route(srv, "POST", "/api/prom/push", handle_push, l, l->max_body_bytes);
    scry_http_server_route_own_encoding(srv);
    *out = l;
    return 0;
}

void col_loki_destroy(struct col_loki *l)
{
    if (!l)
        return;
    col__reply_fini(&l->reply);
    free(l);
}
