/* api_loki_tail.c — /loki/api/v1/tail, Loki's live tail over a WebSocket
 * (contract §6).
 *
 * The handler checks the parameters and the handshake like Loki (a 400 in
 * plain text before any upgrade), answers 101, and core/http runs the
 * session on the connection's thread. The session first sends the entries
 * from `start` (default now - 1 h) forward, at most `limit` (default 100),
 * then polls the store every POLL_MS (250 ms) up to now - delay_for and
 * sends what arrived, one text frame per poll:
 *   {"streams":[{"stream":{...},"values":[["<ns>","<line>"],...]}]}
 * (3-tuples and "encodingFlags" with categorize-labels, as query_range).
 *
 * Why polling: the log store has no append notification, and a poll is
 * one small forward LogQL query over the last seconds (the head only;
 * segments are pruned by time). Entries reach the store a little after
 * their timestamp (a push is built, sent, decoded; Promtail and Alloy batch
 * for up to 1 s), so a window [previous end, now) would miss every entry
 * still in flight when it was read. Each poll therefore reaches LATE_NS
 * (3 s) back and skips what it sent before, by a hash of (labels,
 * timestamp, line) kept for the entries inside the window: at most one
 * copy of each entry, in timestamp order within a frame's stream. An entry
 * arriving more than LATE_NS + delay_for after its timestamp is not sent
 * (Loki's ingester taps would send it); `delay_for` (0..5 s) moves the
 * window's end back, as Loki delays sending. A window cut by the batch
 * limit (max_entries_limit) resumes at its last timestamp. The first batch
 * skips what lies past its limit, as Loki's does, and nothing is dropped
 * afterwards, so `dropped_entries` never appears.
 *
 * The session answers ping with pong, a close with a close (same code),
 * ends when the client goes away or the server stops (close 1001), and at
 * most MAX_TAILS run at once (Loki's max_concurrent_tail_requests default:
 * 10): above it the handshake is a 429. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/ws.h"
#include "query/api_loki_internal.h"
#include "query/logql.h"

#define POLL_MS 250
#define DEFAULT_LIMIT 100
#define DEFAULT_SINCE_NS (3600LL * 1000000000LL)
#define MAX_DELAY_S 5
#define MAX_CLIENT_MSG_BYTES (64u << 10)
#define LATE_NS (3LL * 1000000000LL) /* how late an entry may arrive and still be sent */

struct tail {
    struct loki_api *api;
    const char *query, *tenant;
    bool cat;
    uint64_t limit;
    int64_t start_ns, delay_ns;
};

/* ---- the handshake ---- */

/* A header holds a token in its comma list ("keep-alive, Upgrade"). */
static bool has_token(const char *h, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && !strncasecmp(p, tok, n))
            return true;
        p = e;
    }
    return false;
}

static void session(struct scry_http_upgraded *u, void *ud);

static bool categorize(struct loki_api_ctx *c)
{
    const char *h = scry_http_header(c->req, "X-Loki-Response-Encoding-Flags");
    return h && has_token(h, "categorize-labels");
}

static void fini_expr(void *e) { lql_expr_fini(e); }

void loki__tail(struct loki_api_ctx *c)
{
    struct tail *t = scry_arena_calloc(c->req->arena, 1, sizeof *t);
    t->api = c->api;
    /* the header lives in MHD's connection memory: keep our own copy for
     * the session, which outlives the request's handling */
    t->tenant = c->tenant ? scry_arena_strdup(c->req->arena, c->tenant) : NULL;
    t->query = scry_http_param(c->req, "query");
    if (!t->query)
        t->query = "";
    int64_t now = loki__now_ns(c);
    if (loki__limit(c, DEFAULT_LIMIT, &t->limit) ||
        loki__time(c, "start", now - DEFAULT_SINCE_NS, &t->start_ns))
        return;
    const char *d = scry_http_param(c->req, "delay_for");
    if (d && *d) {
        char *end;
        long v = strtol(d, &end, 10);
        if (*end || end == d) {
            loki__error(c, 400, "cannot parse \"%s\" to a valid delay_for", d);
            return;
        }
        if (v < 0 || v > MAX_DELAY_S) {
            loki__error(c, 400, "delay_for can't be greater than %d", MAX_DELAY_S);
            return;
        }
        t->delay_ns = v * 1000000000LL;
    }
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(c->req->arena, t->query, strlen(t->query), &e, &err) != 0) {
        loki__error(c, 400, "%s", err.msg);
        return;
    }
    loki__defer(c, fini_expr, e);
    if (!lql_is_log(e)) {
        loki__error(c, 400, "tail is only supported for log queries");
        return;
    }
    /* RFC 6455 §4.2.1; gorilla/websocket (Loki's) answers these with 400 */
    const char *up = scry_http_header(c->req, "Upgrade");
    const char *conn = scry_http_header(c->req, "Connection");
    const char *ver = scry_http_header(c->req, "Sec-WebSocket-Version");
    const char *key = scry_http_header(c->req, "Sec-WebSocket-Key");
    if (!up || !has_token(up, "websocket") || !conn || !has_token(conn, "upgrade")) {
        loki__error(c, 400, "websocket: the client is not using the websocket protocol: "
                            "'upgrade' token not found in 'Connection' header");
        return;
    }
    if (!ver || strcmp(ver, "13") != 0) {
        loki__error(c, 400, "websocket: unsupported version: 13 not found in "
                            "'Sec-Websocket-Version' header");
        return;
    }
    if (!key || strlen(key) != 24) {
        loki__error(c, 400, "websocket: not a websocket handshake: 'Sec-WebSocket-Key' "
                            "header must be Base64 encoded value of 16-byte in length");
        return;
    }
    if (atomic_load(&c->api->n_tails) >= LOKI_MAX_TAILS) {
        loki__error(c, 429, "max concurrent tail requests limit exceeded, count > limit "
                            "(%d > %d)", LOKI_MAX_TAILS + 1, LOKI_MAX_TAILS);
        return;
    }
    t->cat = categorize(c);
    char *accept = scry_arena_alloc(c->req->arena, SCRY_WS_ACCEPT_LEN + 1);
    scry_ws_accept_key(key, strlen(key), accept);
    struct scry_http_resp *resp = c->resp;
    resp->status = 101;
    scry_http_resp_header(resp, "Upgrade", "websocket");
    scry_http_resp_header(resp, "Connection", "Upgrade");
    scry_http_resp_header(resp, "Sec-WebSocket-Accept", accept);
    resp->upgrade = session;
    resp->upgrade_ud = t;
}

/* ---- the session ---- */

struct seen {
    int64_t t_ns;
    uint64_t h;
};

struct sess {
    struct tail *t;
    struct scry_http_upgraded *u;
    struct lql_expr *e;
    struct scry_arena *a; /* per poll */
    struct scry_buf out;
    int64_t lo;           /* the next window starts here */
    struct seen *seen;    /* entries sent with t >= lo, sorted by h */
    size_t n_seen, n_sorted, cap_seen;
};

static uint64_t entry_hash(const struct scry_labels *ls, const struct lql_out_entry *e)
{
    uint64_t h = scry_labels_hash(ls) ^ (uint64_t)e->t_ns * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < e->line.len; i++) /* FNV-1a over the line */
        h = (h ^ (uint8_t)e->line.p[i]) * 0x100000001b3ull;
    return h;
}

static int cmp_seen(const void *x, const void *y)
{
    uint64_t a = ((const struct seen *)x)->h, b = ((const struct seen *)y)->h;
    return a < b ? -1 : a > b;
}

/* Looks among the entries sent in earlier polls (sorted) only: a poll's
 * own result has no duplicates. */
static bool was_sent(const struct sess *s, uint64_t h)
{
    struct seen key = { 0, h };
    return s->n_sorted && bsearch(&key, s->seen, s->n_sorted, sizeof key, cmp_seen);
}

static void add_seen(struct sess *s, int64_t t_ns, uint64_t h)
{
    if (s->n_seen == s->cap_seen) {
        s->cap_seen = s->cap_seen ? 2 * s->cap_seen : 256;
        s->seen = scry_realloc(s->seen, s->cap_seen * sizeof *s->seen);
    }
    s->seen[s->n_seen++] = (struct seen){ t_ns, h };
}

/* Moves the window start to lo: forgets what lies before it and sorts
 * the rest for lookups. */
static void advance(struct sess *s, int64_t lo)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->seen[i].t_ns >= lo)
            s->seen[k++] = s->seen[i];
    s->n_seen = s->n_sorted = k;
    if (k > 1)
        qsort(s->seen, k, sizeof *s->seen, cmp_seen);
    s->lo = lo;
}

static int send_frame(struct sess *s, int opcode, const void *p, size_t len)
{
    uint8_t hdr[SCRY_WS_MAX_HEADER];
    size_t hl = scry_ws_frame_header(hdr, opcode, len);
    if (scry_http_upgraded_write(s->u, hdr, hl) != 0)
        return -1;
    return len ? scry_http_upgraded_write(s->u, p, len) : 0;
}

static void send_close(struct sess *s, unsigned code, const char *reason)
{
    uint8_t b[125];
    size_t n = strlen(reason) > 123 ? 123 : strlen(reason);
    b[0] = (uint8_t)(code >> 8);
    b[1] = (uint8_t)code;
    memcpy(b + 2, reason, n);
    send_frame(s, SCRY_WS_CLOSE, b, n + 2);
}

/* Encodes the entries of r not sent before and remembers them; returns
 * how many. */
static size_t encode(struct sess *s, const struct lql_result *r)
{
    struct scry_json j;
    s->out.len = 0;
    scry_json_init(&j, &s->out);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "streams");
    scry_json_arr_begin(&j);
    size_t n = 0;
    for (size_t i = 0; i < r->n_streams; i++) {
        const struct lql_out_stream *st = &r->streams[i];
        bool open = false;
        for (size_t k = 0; k < st->n_entries; k++) {
            const struct lql_out_entry *e = &st->entries[k];
            uint64_t h = entry_hash(&st->labels, e);
            if (was_sent(s, h))
                continue;
            add_seen(s, e->t_ns, h);
            if (!open) {
                scry_json_obj_begin(&j);
                scry_json_key(&j, "stream");
                scry_json_labels(&j, &st->labels);
                scry_json_key(&j, "values");
                scry_json_arr_begin(&j);
                open = true;
            }
            loki__put_entry(&j, e, s->t->cat);
            n++;
        }
        if (open) {
            scry_json_arr_end(&j);
            scry_json_obj_end(&j);
        }
    }
    scry_json_arr_end(&j);
    if (s->t->cat) {
        scry_json_key(&j, "encodingFlags");
        scry_json_arr_begin(&j);
        scry_json_str(&j, "categorize-labels");
        scry_json_arr_end(&j);
    }
    scry_json_obj_end(&j);
    return n;
}

/* One window [lo, end): 0, or -1 when the session must end. */
static int poll_store(struct sess *s, int64_t end, uint64_t limit, bool first)
{
    struct tail *t = s->t;
    if (end <= s->lo)
        return 0;
    struct lql_opts o = { .timeout_ms = t->api->opts.timeout_ms, .tenant = t->tenant,
                          .categorize = t->cat };
    struct lql_result r;
    struct scry_err err = { 0 };
    scry_arena_reset(s->a);
    int rc = lql_eval_logs(&o, t->api->store, s->e, s->lo, end, limit, false, s->a, &r, &err);
    if (rc) {
        if (scry_http_upgraded_stopping(s->u)) { /* the store closes first */
            send_close(s, 1001, "server shutting down");
            return -1;
        }
        if (t->api->opts.log)
            SCRY_LOG(t->api->opts.log, SCRY_LOG_WARN, "loki", "tail query failed", "err",
                     err.msg);
        send_close(s, 1011, err.msg);
        return -1;
    }
    int64_t last = s->lo;
    size_t total = 0;
    for (size_t i = 0; i < r.n_streams; i++) {
        total += r.streams[i].n_entries;
        for (size_t k = 0; k < r.streams[i].n_entries; k++)
            if (r.streams[i].entries[k].t_ns > last)
                last = r.streams[i].entries[k].t_ns;
    }
    size_t n = encode(s, &r);
    if (n && send_frame(s, SCRY_WS_TEXT, s->out.p, s->out.len) != 0)
        return -1;
    /* The next window: from `last` when this one was cut by the limit (its
     * entries there are remembered), else reaching LATE_NS back for entries
     * that arrive late; the first batch skips what lies past its limit, as
     * Loki's does. Never backwards: what lies before lo is forgotten. */
    int64_t lo = end - LATE_NS;
    if (first && total >= limit)
        lo = end;
    else if (total >= limit && last > s->lo)
        lo = last;
    else if (total >= limit)
        lo = last + 1; /* a full batch at one instant: give up the rest of it */
    advance(s, lo > s->lo ? lo : s->lo);
    return 0;
}

/* Client frames: 0 to go on, -1 to end the session. */
static int on_client(struct sess *s, struct scry_ws_reader *rd)
{
    struct scry_ws_msg m;
    struct scry_err err = { 0 };
    int rc;
    while ((rc = scry_ws_reader_next(rd, &m, &err)) == 1) {
        if (m.opcode == SCRY_WS_PING) {
            if (send_frame(s, SCRY_WS_PONG, m.p, m.len) != 0)
                return -1;
        } else if (m.opcode == SCRY_WS_CLOSE) {
            /* echo the status code (§5.5.1); a bodyless close gets none */
            send_frame(s, SCRY_WS_CLOSE, m.p, m.len >= 2 ? 2 : 0);
            return -1;
        } /* text, binary and pong: Loki ignores what the client sends */
    }
    if (rc < 0) {
        send_close(s, rc == SCRY_ELIMIT ? 1009 : 1002, err.msg);
        return -1;
    }
    return 0;
}

static void run(struct sess *s)
{
    struct tail *t = s->t;
    struct scry_ws_reader rd;
    scry_ws_reader_init(&rd, MAX_CLIENT_MSG_BYTES);
    s->lo = t->start_ns;
    int64_t now = scry_clock_now_ms(t->api->opts.clock) * 1000000;
    if (poll_store(s, now - t->delay_ns, t->limit, true) != 0)
        goto out;
    double next = scry_mono_s() + POLL_MS / 1000.0;
    char buf[4096];
    for (;;) {
        if (scry_http_upgraded_stopping(s->u)) {
            send_close(s, 1001, "server shutting down");
            break;
        }
        double wait = next - scry_mono_s();
        ssize_t n = scry_http_upgraded_read(s->u, buf, sizeof buf,
                                            wait > 0 ? (int)(wait * 1000) + 1 : 0);
        if (n < 0)
            break; /* the client went away */
        if (n > 0) {
            scry_ws_reader_feed(&rd, buf, (size_t)n);
            if (on_client(s, &rd) != 0)
                break;
        }
        if (scry_mono_s() < next)
            continue;
        next = scry_mono_s() + POLL_MS / 1000.0;
        now = scry_clock_now_ms(t->api->opts.clock) * 1000000;
        if (poll_store(s, now - t->delay_ns, t->api->opts.max_entries_limit, false) != 0)
            break;
    }
out:
    scry_ws_reader_fini(&rd);
}

static void session(struct scry_http_upgraded *u, void *ud)
{
    struct tail *t = ud;
    struct sess s = { .t = t, .u = u };
    /* the handler's check is advisory (no slot is held before the 101);
     * this is the one that counts */
    if (atomic_fetch_add(&t->api->n_tails, 1) >= LOKI_MAX_TAILS) {
        send_close(&s, 1013, "max concurrent tail requests limit exceeded");
        atomic_fetch_sub(&t->api->n_tails, 1);
        return;
    }
    s.a = scry_arena_create(0);
    struct scry_arena *pa = scry_arena_create(0);
    struct scry_err err = { 0 };
    /* the handler's parse went with its deferred clean-up: parse again */
    if (lql_parse(pa, t->query, strlen(t->query), &s.e, &err) == 0) {
        run(&s);
        lql_expr_fini(s.e);
    }
    scry_arena_destroy(pa);
    scry_arena_destroy(s.a);
    scry_buf_fini(&s.out);
    free(s.seen);
    atomic_fetch_sub(&t->api->n_tails, 1);
}
