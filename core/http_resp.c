/* http_resp.c — answers: headers, the error envelope, gzip, streamed bodies.
 *
 * A buffered body goes out as one MHD buffer with Content-Length; MHD frees
 * it, so the body is never copied. Over 1 KiB it is gzipped when the
 * client accepts it (Grafana always does; a range query result compresses
 * 10-20x).
 *
 * A streamed body (scry_http_resp.stream) is why this file exists. A range
 * query over all counters of 100k series answers 17.9 M points, ~500 MB of
 * JSON: built whole, that buffer came on top of the evaluated matrix and
 * doubled the peak RSS of the query. So the handler only names a producer,
 * and MHD pulls the body through a content-reader callback
 * (MHD_create_response_from_callback with MHD_SIZE_UNKNOWN): when the
 * piece in hand is sent, a worker thread asks the producer for about 1 MiB
 * more (in calls of about 64 KiB), optionally deflating it, while MHD holds
 * the connection suspended, and MHD takes the piece 64 KiB at a time as its
 * write buffer drains. MHD frames what it sends as HTTP/1.1 chunks, and for
 * an HTTP/1.0 client sends the body unframed and closes the connection
 * after it. Memory per streamed response: a piece of ~1 MiB and a buffer of
 * ~64 KiB, plus zlib's ~256 KiB when gzipping, whatever the body size.
 *
 * The first 64 KiB are produced before anything is queued: a body that
 * ends there is sent exactly as a buffered one (Content-Length, gzip above
 * 1 KiB), so small answers keep their headers and keep-alive behaviour.
 * HEAD runs the producer to the end for the same reason (MHD sends no body
 * for HEAD, but the Content-Length must be right). */
#include "core/http.h"
#include "core/http_internal.h"
#include "core/json.h"
#include "core/mem.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <zlib.h>

void scry_http_resp_header(struct scry_http_resp *resp, const char *name, const char *value)
{
    SCRY_ASSERT(resp->n_hdr < SCRY_HTTP_MAX_HEADERS);
    resp->hdr_name[resp->n_hdr] = name;
    resp->hdr_value[resp->n_hdr] = value;
    resp->n_hdr++;
}

void scry_http_error(struct scry_http_resp *resp, int status, const char *error_type,
                     const char *fmt, ...)
{
    struct scry_buf msg = { 0 };
    va_list ap;
    va_start(ap, fmt);
    scry_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->content_type = "application/json";
    resp->stream = NULL; /* an error replaces whatever body was planned */
    scry_buf_reset(&resp->body);
    struct scry_json j;
    scry_json_init(&j, &resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "status");
    scry_json_str(&j, "error");
    scry_json_key(&j, "errorType");
    scry_json_str(&j, error_type);
    scry_json_key(&j, "error");
    scry_json_strn(&j, msg.p ? msg.p : "", msg.len);
    scry_json_obj_end(&j);
    scry_buf_fini(&msg);
}

/* Whether Accept-Encoding allows gzip: a "gzip", "x-gzip" or "*" token
 * without q=0. */
static bool accepts_gzip(const char *ae)
{
    while (ae && *ae) {
        ae += strspn(ae, " \t,");
        size_t tok = strcspn(ae, ",");
        size_t name = strcspn(ae, ";, \t");
        if (name > tok)
            name = tok;
        bool match = (name == 4 && strncasecmp(ae, "gzip", 4) == 0) ||
                     (name == 6 && strncasecmp(ae, "x-gzip", 6) == 0) ||
                     (name == 1 && ae[0] == '*');
        if (match) {
            const char *q = ae + name;
            const char *end = ae + tok;
            const char *qp = NULL;
            for (const char *p = q; p + 1 < end; p++)
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    qp = p + 2;
            if (!qp)
                return true;
            bool zero = true;
            for (const char *p = qp; p < end && *p != ' ' && *p != ';'; p++)
                if (*p != '0' && *p != '.')
                    zero = false;
            if (!zero)
                return true;
        }
        ae += tok;
    }
    return false;
}

/* ---- streamed bodies ------------------------------------------------------ */

struct stream {
    scry_http_stream_fn fn;
    void *ud;
    struct scry__http_workers *w; /* refills run there */
    struct MHD_Connection *conn;
    bool refill_failed; /* zlib failed: what out holds is the last we send */
    bool produced_all; /* fn returned true */
    bool finished;     /* out holds the last bytes of the body */
    bool gz;
    bool raw_ready;    /* raw holds produced bytes not yet deflated or sent */
    struct scry_buf raw; /* produced, not yet deflated or copied to out */
    struct scry_buf out; /* ready to send */
    size_t off;          /* bytes of out already handed to MHD */
    uint64_t sent;       /* bytes handed to MHD in all */
    z_stream z;
};

/* Calls the producer until b holds at least min bytes or the body ended;
 * true when it ended. */
static bool produce(scry_http_stream_fn fn, void *ud, struct scry_buf *b, size_t min)
{
    bool done = false;
    while (!done && b->len < min)
        done = fn(ud, b);
    return done;
}

/* Deflates all of raw into out (appending); finishes the gzip stream once
 * the producer is done. false when zlib fails. */
static bool deflate_raw(struct stream *s)
{
    SCRY_ASSERT(s->raw.len <= UINT_MAX);
    s->z.next_in = (unsigned char *)s->raw.p;
    s->z.avail_in = (uInt)s->raw.len;
    int flush = s->produced_all ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
        scry_buf_reserve(&s->out, 64 * 1024);
        size_t room = s->out.cap - s->out.len - 1;
        if (room > UINT_MAX)
            room = UINT_MAX;
        s->z.next_out = (unsigned char *)s->out.p + s->out.len;
        s->z.avail_out = (uInt)room;
        int zrc = deflate(&s->z, flush);
        s->out.len += room - s->z.avail_out;
        s->out.p[s->out.len] = 0;
        if (zrc == Z_STREAM_END) {
            s->finished = true;
            return true;
        }
        /* Z_BUF_ERROR: nothing left to do without more input. */
        if (flush == Z_NO_FLUSH && s->z.avail_in == 0 && (zrc == Z_OK || zrc == Z_BUF_ERROR))
            return true;
        if (zrc != Z_OK)
            return false;
    }
}

/* Appends the producer's next ~SCRY_HTTP_STREAM_CHUNK_BYTES to out,
 * deflated when gzipping (then possibly nothing: zlib keeps some for
 * later). The producer always gets an empty buffer (raw): producers count
 * their chunk by its length. false when zlib fails. */
static bool refill(struct stream *s)
{
    assert(!s->finished);
    if (!s->raw_ready) {
        scry_buf_reset(&s->raw);
        s->produced_all = produce(s->fn, s->ud, &s->raw, SCRY_HTTP_STREAM_CHUNK_BYTES);
    }
    s->raw_ready = false;
    if (s->gz)
        return deflate_raw(s);
    scry_buf_put(&s->out, s->raw.p, s->raw.len);
    s->finished = s->produced_all;
    return true;
}

/* A worker's piece: up to ~SCRY__HTTP_STREAM_PIECE_BYTES of the body, the
 * connection suspended meanwhile. Pieces this large because each hand-off
 * costs two thread wake-ups (~0.1 ms here): 64 KiB pieces made a 22 MB
 * answer 40 % slower than producing it on MHD's thread. */
static void refill_job(void *arg)
{
    struct stream *s = arg;
    scry_buf_reset(&s->out);
    s->off = 0;
    bool ok = true;
    while (ok && !s->finished && s->out.len < SCRY__HTTP_STREAM_PIECE_BYTES)
        ok = refill(s);
    s->refill_failed = !ok;
    MHD_resume_connection(s->conn);
}

/* MHD's content reader: called on MHD's thread whenever the connection's
 * write buffer has room; pos is the count of bytes it got so far. The next
 * piece is produced on a worker (the producer may take a while: JSON of a
 * large matrix), with the connection suspended and 0 returned meanwhile;
 * MHD calls again once the worker resumes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    assert(pos == s->sent); /* MHD reads the body strictly in order */
    if (s->off == s->out.len) {
        if (s->refill_failed)
            return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD drops the connection */
        if (s->finished)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* A piece is never empty unless it ends the body (refill_job). */
        MHD_suspend_connection(s->conn);
        if (!scry__http_workers_submit(s->w, refill_job, s))
            refill_job(s); /* the server is stopping: no workers left */
        return 0;
    }
    size_t n = s->out.len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->out.p + s->off, n);
    s->off += n;
    s->sent += n;
    return (ssize_t)n;
}

/* Runs when MHD drops the response, after the request completed (its arena
 * may be gone already): touches nothing of the producer's. */
static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (s->gz)
        deflateEnd(&s->z);
    scry_buf_fini(&s->raw);
    scry_buf_fini(&s->out);
    free(s);
}

/* ---- queueing -------------------------------------------------------------- */

static bool has_header(const struct scry_http_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_hdr; i++)
        if (strcasecmp(resp->hdr_name[i], name) == 0)
            return true;
    return false;
}

static struct MHD_Response *with_headers(struct http_request *r, struct MHD_Response *mr,
                                         const struct scry_http_resp *resp, bool compressible,
                                         bool gz)
{
    r->status = resp->status >= 100 && resp->status <= 999 ? resp->status : 500;
    MHD_add_response_header(mr, "Content-Type",
                            resp->content_type ? resp->content_type : "application/json");
    for (size_t i = 0; i < resp->n_hdr; i++)
        MHD_add_response_header(mr, resp->hdr_name[i], resp->hdr_value[i]);
    if (compressible)
        MHD_add_response_header(mr, "Vary", "Accept-Encoding");
    if (gz)
        MHD_add_response_header(mr, "Content-Encoding", "gzip");
    return mr;
}

enum MHD_Result scry__http_queue(struct http_request *r, struct MHD_Connection *conn,
                                 struct MHD_Response *mr)
{
    if (!mr)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    r->responded = true;
    return ret;
}

/* resp.body holds the first SCRY_HTTP_STREAM_CHUNK_BYTES or more; the
 * stream takes them over with the producer. */
static struct MHD_Response *make_stream(struct http_request *r, struct MHD_Connection *conn,
                                        struct scry_http_resp *resp)
{
    struct stream *s = scry_calloc(1, sizeof *s);
    s->fn = resp->stream;
    s->ud = resp->stream_ud;
    s->w = r->srv->workers;
    s->conn = conn;
    bool compressible = !has_header(resp, "Content-Encoding");
    if (compressible &&
        accepts_gzip(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding")))
        /* Level 1, as for buffered bodies: see scry__http_gzip. */
        s->gz = deflateInit2(&s->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    if (s->gz) {
        s->raw = resp->body;
        s->raw_ready = true;
    } else {
        s->out = resp->body;
    }
    resp->body = (struct scry_buf){ 0 };
    struct MHD_Response *mr =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SCRY_HTTP_STREAM_CHUNK_BYTES,
                                          stream_read, s, stream_free);
    if (!mr) {
        stream_free(s);
        return NULL;
    }
    return with_headers(r, mr, resp, compressible, s->gz);
}

enum MHD_Result scry__http_send_resp(struct http_request *r, struct MHD_Connection *conn,
                                     struct scry_http_resp *resp)
{
    return scry__http_queue(r, conn, scry__http_make_resp(r, conn, resp));
}

struct MHD_Response *scry__http_make_resp(struct http_request *r, struct MHD_Connection *conn,
                                          struct scry_http_resp *resp)
{
    assert(!r->responded);
    if (resp->upgrade)
        return scry__http_make_upgrade(r, resp);
    if (resp->stream) {
        bool done = produce(resp->stream, resp->stream_ud, &resp->body,
                            SCRY_HTTP_STREAM_CHUNK_BYTES);
        if (!done && strcmp(r->req.method, "HEAD") != 0)
            return make_stream(r, conn, resp);
        /* HEAD: the whole body, for its length, a chunk at a time (the
         * producer is only called with less than a chunk in hand) */
        struct scry_buf more = { 0 };
        while (!done) {
            scry_buf_reset(&more);
            done = produce(resp->stream, resp->stream_ud, &more, SCRY_HTTP_STREAM_CHUNK_BYTES);
            scry_buf_put(&resp->body, more.p, more.len);
        }
        scry_buf_fini(&more);
        resp->stream = NULL; /* ended early, or HEAD: answered as a buffered body */
    }
    bool gz = false;
    bool compressible = resp->body.len > SCRY__HTTP_GZIP_MIN_BYTES &&
                        !has_header(resp, "Content-Encoding");
    if (compressible &&
        accepts_gzip(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding"))) {
        struct scry_buf z = { 0 };
        scry_buf_reserve(&z, resp->body.len / 4);
        gz = scry__http_gzip(resp->body.p, resp->body.len, &z);
        if (gz) {
            scry_buf_fini(&resp->body);
            resp->body = z;
        } else {
            scry_buf_fini(&z);
        }
    }
    size_t len = resp->body.len;
    char *p = scry_buf_take(&resp->body); /* MHD frees it: no copy of the body */
    struct MHD_Response *mr = MHD_create_response_from_buffer_with_free_callback(len, p, free);
    if (!mr) {
        free(p);
        return NULL;
    }
    return with_headers(r, mr, resp, compressible, gz);
}
