/* loki_send.c — the agent's log forwarder: an appendable whose commit is
 * "the server acknowledged the push".
 *
 * The tail manager's thread is the only sender: a round's appends are
 * encoded at once into PushRequests of at most batch_bytes (the encoder
 * mirrors col_loki_decode_proto), and the commit spools them with the
 * round's positions (loki_spool.c), then POSTs each, snappy-compressed,
 * until it is acknowledged. While the server is down the commit keeps
 * retrying and the tailer waits (backpressure, as Promtail's); the files
 * are the buffer, so memory stays one round. Outcomes (col_rwq_classify
 * with 429 retried): 2xx delivered; network errors, 5xx and 429 wait
 * min_backoff doubling to max_backoff, or Retry-After; other 4xx count as
 * delivered, as Promtail drops them: scry and Loki answer 400 to entries
 * older than their stream's newest, which is what a resend of stored
 * entries after a crash gets, and a refused batch would be refused again. */
#include "collector/loki_send.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/http_tls.h"
#include "collector/rw_queue.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "scry_build.h"

/* ---- encoder --------------------------------------------------------------- */

static void put_varint(struct scry_buf *b, uint64_t v)
{
    char x[10];
    size_t n = 0;
    while (v >= 0x80) {
        x[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (char)v;
    scry_buf_put(b, x, n);
}

static void put_bytes(struct scry_buf *b, unsigned char tag, const char *p, size_t len)
{
    scry_buf_putc(b, (char)tag);
    put_varint(b, len);
    scry_buf_put(b, p, len);
}

static size_t field_len(size_t len)
{
    return 1 + col__varint_len(len) + len;
}

void col_loki_labels_text(struct scry_buf *out, const struct scry_labels *ls)
{
    scry_buf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            scry_buf_puts(out, ", ");
        scry_buf_puts(out, ls->v[i].name);
        scry_buf_puts(out, "=\"");
        for (const char *c = ls->v[i].value; *c; c++) {
            if (*c == '\\' || *c == '"')
                scry_buf_putc(out, '\\');
            if (*c == '\n')
                scry_buf_puts(out, "\\n");
            else
                scry_buf_putc(out, *c);
        }
        scry_buf_putc(out, '"');
    }
    scry_buf_putc(out, '}');
}

/* Timestamp{seconds, nanos} with nanos in [0, 1e9), as Go's does for
 * times before 1970 too. */
static void split_ts(int64_t t_ns, int64_t *sec, int32_t *nanos)
{
    *sec = t_ns / 1000000000;
    int64_t r = t_ns % 1000000000;
    if (r < 0) {
        r += 1000000000;
        (*sec)--;
    }
    *nanos = (int32_t)r;
}

static size_t ts_len(int64_t sec, int32_t nanos)
{
    return (sec ? 1 + col__varint_len((uint64_t)sec) : 0) + (nanos ? 1 + col__varint_len((uint64_t)nanos) : 0);
}

static size_t pair_len(const struct scry_label *l)
{
    return field_len(strlen(l->name)) + field_len(strlen(l->value));
}

static size_t entry_len(const struct scry_log_entry *e)
{
    int64_t sec;
    int32_t nanos;
    split_ts(e->t_ns, &sec, &nanos);
    size_t n = field_len(ts_len(sec, nanos)) + field_len(e->line.len);
    for (size_t i = 0; i < e->metadata.n; i++)
        n += field_len(pair_len(&e->metadata.v[i]));
    return n;
}

/* One EntryAdapter (field 2 of StreamAdapter), tag and length included. */
static void encode_entry(struct scry_buf *b, const struct scry_log_entry *e)
{
    int64_t sec;
    int32_t nanos;
    split_ts(e->t_ns, &sec, &nanos);
    scry_buf_putc(b, 0x12);
    put_varint(b, entry_len(e));
    scry_buf_putc(b, 0x0a);
    put_varint(b, ts_len(sec, nanos));
    if (sec) {
        scry_buf_putc(b, 0x08);
        put_varint(b, (uint64_t)sec);
    }
    if (nanos) {
        scry_buf_putc(b, 0x10);
        put_varint(b, (uint64_t)nanos);
    }
    put_bytes(b, 0x12, e->line.p, e->line.len);
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        scry_buf_putc(b, 0x1a);
        put_varint(b, pair_len(l));
        put_bytes(b, 0x0a, l->name, strlen(l->name));
        put_bytes(b, 0x12, l->value, strlen(l->value));
    }
}

/* The streams field around already encoded entries. */
static void encode_stream_head(struct scry_buf *out, const char *labels, size_t labels_len,
                               size_t entries_len)
{
    scry_buf_putc(out, 0x0a);
    put_varint(out, field_len(labels_len) + entries_len);
    put_bytes(out, 0x0a, labels, labels_len);
}

void col_loki_encode_stream(struct scry_buf *out, const struct scry_labels *ls,
                            const struct scry_log_entry *e, size_t n)
{
    struct scry_buf lt = { 0 }, body = { 0 };
    col_loki_labels_text(&lt, ls);
    for (size_t i = 0; i < n; i++)
        encode_entry(&body, &e[i]);
    encode_stream_head(out, lt.p, lt.len, body.len);
    scry_buf_put(out, body.p, body.len);
    scry_buf_fini(&lt);
    scry_buf_fini(&body);
}

/* Entries in a PushRequest (for the counters), without decoding them. 0
 * for anything malformed: the spool's CRC already vouches for the bytes. */
static uint64_t count_entries(const char *p, size_t len)
{
    uint64_t n = 0;
    size_t o = 0;
    while (o < len) {
        unsigned char tag = (unsigned char)p[o++];
        uint64_t l = 0;
        for (int sh = 0; o < len && sh < 64; sh += 7) {
            unsigned char c = (unsigned char)p[o++];
            l |= (uint64_t)(c & 0x7f) << sh;
            if (!(c & 0x80))
                break;
        }
        if ((tag & 7) != 2 || l > len - o)
            return n;
        if (tag == 0x0a) { /* a stream: count its entries (field 2) */
            const char *s = p + o;
            size_t so = 0;
            while (so < l) {
                unsigned char st = (unsigned char)s[so++];
                uint64_t sl = 0;
                for (int sh = 0; so < l && sh < 64; sh += 7) {
                    unsigned char c = (unsigned char)s[so++];
                    sl |= (uint64_t)(c & 0x7f) << sh;
                    if (!(c & 0x80))
                        break;
                }
                if ((st & 7) != 2 || sl > l - so)
                    break;
                n += st == 0x12;
                so += sl;
            }
        }
        o += l;
    }
    return n;
}

/* ---- the sender -------------------------------------------------------------- */

struct col_loki_send {
    struct scry_appendable a; /* first */
    struct col_loki_send_opts o;
    char *url, *dir, *tenant, *spool_path;
    CURL *curl;
    bool curl_init; /* curl_global_init is refcounted: one cleanup per init */
    struct col__http_capture resp;
    struct scry_buf snappy;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    double stop_at_s; /* monotonic */
    struct col_tail_position *pend; /* the round's positions (from the hook) */
    size_t n_pend;
    char *pend_strs;
    struct scry_metrics *own_metrics;
    struct {
        struct scry_metric *sent, *bytes, *failed, *retried, *dropped, *requests, *recovered;
    } m;
    struct col_loki_send_stats st; /* under mu */
};

struct send_app {
    struct scry_appender app; /* first */
    struct col_loki_send *s;
    struct scry_buf pushes;  /* n_push x { u32 len | PushRequest } */
    uint32_t n_push;
    size_t push_at;          /* offset of the open push's length, or SIZE_MAX */
    struct scry_buf labels;  /* the open stream's label text */
    struct scry_buf entries; /* the open stream's encoded entries */
    struct scry_buf scratch;
};

static void close_stream(struct send_app *a)
{
    if (a->entries.len == 0)
        return;
    if (a->push_at == SIZE_MAX) {
        a->push_at = a->pushes.len;
        scry_buf_put(&a->pushes, "\0\0\0\0", 4);
        a->n_push++;
    }
    assert(a->labels.len > 0); /* set by the append that opened the stream */
    encode_stream_head(&a->pushes, a->labels.p, a->labels.len, a->entries.len);
    scry_buf_put(&a->pushes, a->entries.p, a->entries.len);
    scry_buf_reset(&a->entries);
}

static void close_push(struct send_app *a)
{
    close_stream(a);
    if (a->push_at == SIZE_MAX)
        return;
    assert(a->push_at + 4 <= a->pushes.len);
    uint32_t len = (uint32_t)(a->pushes.len - a->push_at - 4);
    for (int i = 0; i < 4; i++)
        a->pushes.p[a->push_at + (size_t)i] = (char)(len >> (8 * i));
    a->push_at = SIZE_MAX;
}

static int app_append_log(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                          const struct scry_log_entry *e, struct scry_err *err)
{
    struct send_app *a = (struct send_app *)app;
    (void)err;
    /* The label text is rendered for every entry (a few dozen bytes) and
     * compared: a caller may reuse the storage of its label set, so the
     * pointers say nothing. */
    scry_buf_reset(&a->scratch);
    col_loki_labels_text(&a->scratch, ls);
    if (a->scratch.len != a->labels.len || memcmp(a->scratch.p, a->labels.p, a->labels.len)) {
        close_stream(a);
        scry_buf_reset(&a->labels);
        scry_buf_put(&a->labels, a->scratch.p, a->scratch.len);
    }
    /* A push holds batch_bytes at most, unless one entry alone is larger. */
    size_t open = a->push_at == SIZE_MAX ? 0 : a->pushes.len - a->push_at - 4;
    size_t held = open + a->entries.len; /* + the open stream's head, below */
    if (held > 0 && held + a->labels.len + 16 + entry_len(e) + 16 > a->s->o.batch_bytes)
        close_push(a);
    encode_entry(&a->entries, e);
    if (ref)
        *ref = 1;
    return 0;
}

static void app_free(struct send_app *a)
{
    scry_buf_fini(&a->pushes);
    scry_buf_fini(&a->labels);
    scry_buf_fini(&a->entries);
    scry_buf_fini(&a->scratch);
    free(a);
}

static void app_rollback(struct scry_appender *app)
{
    app_free((struct send_app *)app);
}

static long post(struct col_loki_send *s, const char *body, size_t len, unsigned attempt,
                 char *cerr, size_t cerr_len)
{
    struct curl_slist *hl = NULL;
    char line[512];
    hl = curl_slist_append(hl, "Content-Type: application/x-protobuf");
    hl = curl_slist_append(hl, "Expect:");
    if (s->tenant) {
        snprintf(line, sizeof line, "X-Scope-OrgID: %s", s->tenant);
        hl = curl_slist_append(hl, line);
    }
    if (attempt) {
        snprintf(line, sizeof line, "Retry-Attempt: %u", attempt);
        hl = curl_slist_append(hl, line);
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    col__http_capture_reset(&s->resp);
    long status = 0;
    CURLcode cc = curl_easy_perform(s->curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(cerr, cerr_len, "%s", curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    col__http_capture_done(&s->resp);
    return status;
}

/* Waits delay_ms unless the drain deadline comes first. False: give up. */
static bool wait_retry(struct col_loki_send *s, int64_t delay_ms)
{
    pthread_mutex_lock(&s->mu);
    double until = scry_mono_s() + (double)delay_ms / 1000.0;
    for (;;) {
        double now = scry_mono_s();
        if (s->stopping && now >= s->stop_at_s)
            break;
        double to = s->stopping && s->stop_at_s < until ? s->stop_at_s : until;
        if (now >= to)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts); /* pthread_cond default clock */
        int64_t ns = ts.tv_nsec + (int64_t)((to - now) * 1e9);
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    bool go_on = !(s->stopping && scry_mono_s() >= s->stop_at_s);
    pthread_mutex_unlock(&s->mu);
    return go_on;
}

static void count(struct col_loki_send *s, uint64_t *st, struct scry_metric *m, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    *st += n;
    pthread_mutex_unlock(&s->mu);
    scry_metric_add(m, (double)n);
}

/* Sends one push until it is delivered (0) or the drain gives up
 * (SCRY_EIO). */
static int deliver(struct col_loki_send *s, const char *p, size_t len, struct scry_err *err)
{
    uint64_t n = count_entries(p, len);
    size_t need = snappy_max_compressed_length(len);
    scry_buf_reset(&s->snappy);
    scry_buf_reserve(&s->snappy, need);
    size_t clen = need;
    if (snappy_compress(p, len, s->snappy.p, &clen) != SNAPPY_OK)
        return scry_err_set(err, SCRY_EIO, "snappy: cannot compress"); /* cannot happen */
    int64_t backoff = s->o.min_backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        char cerr[256] = "", code[16];
        long status = post(s, s->snappy.p, clen, attempt, cerr, sizeof cerr);
        count(s, &s->st.requests, s->m.requests, 1);
        snprintf(code, sizeof code, "%ld", status);
        enum col_rwq_outcome oc = col_rwq_classify(status, status != 0, true);
        if (oc == COL_RWQ_OK) {
            count(s, &s->st.entries_sent, s->m.sent, n);
            count(s, &s->st.bytes_sent, s->m.bytes, clen);
            return 0;
        }
        count(s, &s->st.entries_failed, s->m.failed, n);
        if (oc == COL_RWQ_DROP) {
            /* "N of M entries rejected": the others are stored. */
            uint64_t rej = strtoull(s->resp.body.p, NULL, 10);
            if (rej == 0 || rej > n || !strstr(s->resp.body.p, " entries rejected"))
                rej = n;
            count(s, &s->st.entries_dropped, s->m.dropped, rej);
            bool resend = strstr(s->resp.body.p, "out of order") != NULL;
            SCRY_LOG(s->o.log, resend ? SCRY_LOG_INFO : SCRY_LOG_WARN, "logs_push",
                     resend ? "server already holds entries of this push (a resend)"
                            : "server refused a push; dropped",
                     "url", s->url, "status", code, "err", s->resp.body.p);
            return 0;
        }
        count(s, &s->st.entries_retried, s->m.retried, n);
        int64_t delay = backoff;
        int64_t ra = col_rwq_retry_after_ms(s->resp.retry_after[0] ? s->resp.retry_after : NULL,
                                            scry_now_ms());
        if (ra >= 0)
            delay = ra;
        if (attempt == 0 || attempt % 10 == 0)
            SCRY_LOG(s->o.log, SCRY_LOG_WARN, "logs_push", "push failed; retrying", "url", s->url,
                     "status", status ? code : "none", "err", status ? s->resp.body.p : cerr);
        if (!wait_retry(s, delay))
            return scry_err_set(err, SCRY_EIO, "logs_push %s: stopped before the server "
                                "acknowledged; the spool is sent after the next start", s->url);
        backoff = backoff * 2 > s->o.max_backoff_ms ? s->o.max_backoff_ms : backoff * 2;
    }
}

static int deliver_all(struct col_loki_send *s, const char *pushes, size_t len,
                       struct scry_err *err)
{
    for (size_t o = 0; o + 4 <= len;) {
        const unsigned char *u = (const unsigned char *)pushes + o;
        size_t pl = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
        assert(o + 4 + pl <= len); /* built by close_push, not read from disk */
        int rc = deliver(s, pushes + o + 4, pl, err);
        if (rc != 0)
            return rc;
        o += 4 + pl;
    }
    return 0;
}

static int app_commit(struct scry_appender *app, struct scry_err *err)
{
    struct send_app *a = (struct send_app *)app;
    struct col_loki_send *s = a->s;
    close_push(a);
    assert(a->push_at == SIZE_MAX && a->entries.len == 0);
    int rc = 0;
    if (a->n_push > 0) {
        rc = col_loki_spool_write(s->spool_path, s->pend, s->n_pend, a->pushes.p, a->pushes.len,
                                  a->n_push, err);
        if (rc == 0)
            rc = deliver_all(s, a->pushes.p, a->pushes.len, err);
    }
    app_free(a);
    return rc;
}

static const struct scry_appender_ops send_ops = {
    .append_log = app_append_log, .commit = app_commit, .rollback = app_rollback,
};

static int send_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                      struct scry_err *err)
{
    (void)tenant;
    (void)err;
    struct send_app *a = scry_calloc(1, sizeof *a);
    a->app.ops = &send_ops;
    a->s = (struct col_loki_send *)store;
    a->push_at = SIZE_MAX;
    *out = &a->app;
    return 0;
}

static void clear_pending(struct col_loki_send *s)
{
    free(s->pend);
    free(s->pend_strs);
    s->pend = NULL;
    s->pend_strs = NULL;
    s->n_pend = 0;
}

void col_loki_send_on_checkpoint(void *ud, const struct col_tail_position *p, size_t n,
                                 bool written)
{
    struct col_loki_send *s = ud;
    clear_pending(s);
    if (written) {
        /* The checkpoints are in the catalog: the spool has done its job. */
        unlink(s->spool_path);
        return;
    }
    size_t strs = 0;
    for (size_t i = 0; i < n; i++)
        strs += strlen(p[i].path ? p[i].path : "") + 1;
    s->pend = scry_calloc(n ? n : 1, sizeof *s->pend);
    char *z = s->pend_strs = scry_malloc(strs ? strs : 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(p[i].path ? p[i].path : "");
        s->pend[i] = p[i];
        memcpy(z, p[i].path ? p[i].path : "", l + 1);
        s->pend[i].path = z;
        z += l + 1;
    }
    s->n_pend = n;
}

int col_loki_send_recover(struct col_loki_send *s, const char *catalog_path, struct scry_err *err)
{
    struct col_loki_spool sp;
    struct scry_err e = { 0 };
    int rc = col_loki_spool_read(s->spool_path, &sp, &e);
    if (rc == SCRY_ENOTFOUND)
        return 0;
    if (rc == SCRY_ECORRUPT) {
        SCRY_LOG(s->o.log, SCRY_LOG_WARN, "logs_push", "damaged spool removed; the tailer "
                 "re-reads its lines from the checkpoints", "err", e.msg);
        unlink(s->spool_path);
        return 0;
    }
    if (rc != 0) {
        if (err)
            *err = e;
        return rc;
    }
    char np[32], nq[32];
    snprintf(np, sizeof np, "%zu", sp.n_push);
    snprintf(nq, sizeof nq, "%zu", sp.n_pos);
    SCRY_LOG(s->o.log, SCRY_LOG_INFO, "logs_push", "resending the spool of the last run",
             "pushes", np, "files", nq);
    for (size_t i = 0; i < sp.n_push && rc == 0; i++)
        rc = deliver(s, sp.push[i].p, sp.push[i].len, err);
    if (rc == 0)
        rc = col_tail_positions_put(catalog_path, sp.pos, sp.n_pos, err);
    if (rc == 0) {
        unlink(s->spool_path);
        count(s, &s->st.spools_recovered, s->m.recovered, 1);
    }
    col_loki_spool_fini(&sp);
    return rc;
}

void col_loki_send_stop(struct col_loki_send *s, int64_t grace_ms)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->stop_at_s = scry_mono_s() + (double)grace_ms / 1000.0;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void col_loki_send_stats(struct col_loki_send *s, struct col_loki_send_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

struct scry_appendable *col_loki_send_appendable(struct col_loki_send *s)
{
    return &s->a;
}

static void register_metrics(struct col_loki_send *s)
{
    struct scry_metrics *m = s->o.metrics;
    if (!m)
        m = s->own_metrics = scry_metrics_create();
    s->m.sent = scry_metrics_counter(m, "scry_logs_push_sent_entries_total",
                                     "Log entries the server acknowledged (2xx).");
    s->m.bytes = scry_metrics_counter(m, "scry_logs_push_sent_bytes_total",
                                      "Compressed push bytes the server acknowledged.");
    s->m.failed = scry_metrics_counter(m, "scry_logs_push_failed_entries_total",
                                       "Log entries in failed push attempts (each attempt).");
    s->m.retried = scry_metrics_counter(m, "scry_logs_push_retried_entries_total",
                                        "Log entries in push attempts that are retried.");
    s->m.dropped = scry_metrics_counter(m, "scry_logs_push_dropped_entries_total",
                                        "Log entries the server refused with a 4xx (also "
                                        "entries it already held, after a crash).");
    s->m.requests = scry_metrics_counter(m, "scry_logs_push_requests_total",
                                         "Loki push HTTP attempts.");
    s->m.recovered = scry_metrics_counter(m, "scry_logs_push_spools_recovered_total",
                                          "Spooled batches resent at start-up.");
}

int col_loki_send_open(struct col_loki_send **out, const struct col_loki_send_opts *o,
                       struct scry_err *err)
{
    if (!o || !o->url || !o->dir)
        return scry_err_set(err, SCRY_EINVAL, "logs_push: missing url or dir");
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
        return scry_err_sys(err, SCRY_EIO, "logs_push: mkdir %s", o->dir);
    struct col_loki_send *s = scry_calloc(1, sizeof *s);
    s->a.begin = send_begin;
    s->o = *o;
    if (!s->o.batch_bytes)
        s->o.batch_bytes = 1 << 20;
    if (!s->o.timeout_ms)
        s->o.timeout_ms = 10000;
    if (!s->o.min_backoff_ms)
        s->o.min_backoff_ms = 500;
    if (!s->o.max_backoff_ms)
        s->o.max_backoff_ms = 30000;
    s->url = scry_strdup(o->url);
    s->dir = scry_strdup(o->dir);
    s->tenant = o->tenant ? scry_strdup(o->tenant) : NULL;
    struct scry_buf p = { 0 };
    scry_buf_printf(&p, "%s/spool", o->dir);
    s->spool_path = scry_buf_take(&p);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    register_metrics(s);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s->curl_init = true;
    s->curl = curl_easy_init();
    if (!s->curl) {
        col_loki_send_close(s);
        return scry_err_set(err, SCRY_EIO, "libcurl: cannot create a handle");
    }
    curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "scry-agent/" SCRY_VERSION);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.timeout_ms);
    col__http_capture_apply(s->curl, &s->resp);
    *out = s;
    return 0;
}

void col_loki_send_close(struct col_loki_send *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    if (s->curl_init)
        curl_global_cleanup();
    clear_pending(s);
    scry_buf_fini(&s->resp.body);
    scry_buf_fini(&s->snappy);
    scry_metrics_destroy(s->own_metrics);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s->url);
    free(s->dir);
    free(s->tenant);
    free(s->spool_path);
    free(s);
}
