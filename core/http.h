/* http.h — scry's HTTP server: a thin layer over libmicrohttpd.
 *
 * What it adds: a routing table by method and path with path parameters
 * ("/api/v1/label/:name/values"), request body limits (413), request bodies
 * decoded from gzip/deflate/snappy by Content-Encoding (decoded size limited
 * too), query string and form parameters merged the way Go's r.Form does
 * (body first, repeated keys kept: match[]), one arena per request, and the
 * Prometheus-style error envelope. Handlers run on worker threads (one per
 * request in flight, kept between requests), may block, and fill a buffered
 * or streamed response.
 *
 * Lifecycle: create (binds the socket, so "port in use" surfaces here and
 * port 0 is resolved), add routes, start, ..., stop (stops accepting and
 * waits for in-flight requests up to the configured bound), destroy. */
#ifndef SCRY_CORE_HTTP_H
#define SCRY_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"

struct scry_http_server;

struct scry_http_param {
    const char *key, *value; /* decoded; arena-owned */
};

struct scry_http_req {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* the URL path, without the query string */
    const char *route;        /* the matched pattern, e.g. "/api/v1/label/:name/values" */
    struct scry_arena *arena; /* lives until the response is sent */
    const char *body;         /* decoded body, NUL-terminated (not counted in body_len) */
    size_t body_len;
    /* URL query and, for application/x-www-form-urlencoded bodies, form
     * parameters: body first, then URL, in order, repeats kept. */
    const struct scry_http_param *params;
    size_t n_params;
    const struct scry_http_param *path_params; /* from ":name" segments */
    size_t n_path_params;
    void *conn; /* struct MHD_Connection*; for header lookup */
};

/* A request header (case-insensitive), or NULL. */
const char *scry_http_header(const struct scry_http_req *req, const char *name);
/* The first value of a parameter, or NULL. */
const char *scry_http_param(const struct scry_http_req *req, const char *key);
/* All values of a parameter in order, as an arena array; returns the count. */
size_t scry_http_param_all(const struct scry_http_req *req, const char *key, const char ***out);
const char *scry_http_path_param(const struct scry_http_req *req, const char *name);

#define SCRY_HTTP_MAX_HEADERS 8

/* A connection switched to another protocol (WebSocket): see
 * scry_http_resp.upgrade. */
struct scry_http_upgraded;
typedef void (*scry_http_upgrade_fn)(struct scry_http_upgraded *u, void *ud);

/* A streamed body's producer: appends the next bytes of the body to out and
 * returns true once it has appended the last ones. Each call should add
 * about SCRY_HTTP_STREAM_CHUNK_BYTES or more (any amount is correct; fewer
 * bytes only mean more calls), and must add at least one byte or finish.
 * It is only called while out holds fewer than SCRY_HTTP_STREAM_CHUNK_BYTES,
 * so a producer may count its chunk by out->len. */
typedef bool (*scry_http_stream_fn)(void *ud, struct scry_buf *out);
#define SCRY_HTTP_STREAM_CHUNK_BYTES (64u << 10)

struct scry_http_resp {
    int status;               /* default 200 */
    const char *content_type; /* default "application/json" */
    struct scry_buf body;
    const char *hdr_name[SCRY_HTTP_MAX_HEADERS]; /* static or arena strings */
    const char *hdr_value[SCRY_HTTP_MAX_HEADERS];
    size_t n_hdr;
    /* Protocol upgrade: a handler that sets upgrade (and status 101 plus the
     * Upgrade header and its protocol's headers) gets, once the 101 has been
     * sent, upgrade(u, upgrade_ud) called on the connection's own thread. It
     * may block for the life of the session, talks through the
     * scry_http_upgraded_* calls, and must return soon after
     * scry_http_upgraded_stopping() turns true (server stop). The request
     * (arena included) lives until it returns; the socket is closed after. */
    scry_http_upgrade_fn upgrade;
    void *upgrade_ud;
    /* Streamed body: when stream is set, the body is what is already in
     * body followed by what stream(stream_ud, ...) appends, called on the
     * connection's thread as the client reads (after the handler returned).
     * A body that ends within the first SCRY_HTTP_STREAM_CHUNK_BYTES, and
     * every answer to HEAD, goes out whole with Content-Length as a
     * buffered one would; a longer one goes out in chunks (HTTP/1.1
     * chunked, or to connection close for HTTP/1.0), gzipped on the fly
     * when accepted, and never exists whole. status and headers are final
     * when the handler returns. stream_ud and what it points to must live
     * until the request completes (the request arena does); when the client
     * goes away mid-body the producer is simply not called again. */
    scry_http_stream_fn stream;
    void *stream_ud;
};

/* Upgraded connections: read waits up to timeout_ms and returns bytes read
 * (first the bytes that arrived with the request), 0 on timeout, -1 when
 * the peer closed or on error. write sends everything or returns -1 (peer
 * gone, or no progress for 10 s). */
ssize_t scry_http_upgraded_read(struct scry_http_upgraded *u, void *p, size_t cap,
                                int timeout_ms);
int scry_http_upgraded_write(struct scry_http_upgraded *u, const void *p, size_t len);
/* True once the server is stopping. */
bool scry_http_upgraded_stopping(const struct scry_http_upgraded *u);

void scry_http_resp_header(struct scry_http_resp *resp, const char *name, const char *value);

/* Writes {"status":"error","errorType":type,"error":msg} with the status
 * code (400 bad_data, 422 execution, 503 timeout/unavailable, 500 internal,
 * 404 not_found, 405, 413 ...). */
void scry_http_error(struct scry_http_resp *resp, int status, const char *error_type,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

typedef void (*scry_http_handler_fn)(struct scry_http_req *req, struct scry_http_resp *resp,
                                     void *ud);

/* Called after each response with the route pattern ("" when none
 * matched), status and handling time: for logs and self-metrics. */
typedef void (*scry_http_observe_fn)(void *ud, const char *method, const char *route,
                                     int status, double seconds);

struct scry_http_opts {
    const char *listen;          /* "HOST:PORT"; port 0 picks a free port */
    size_t max_body_bytes;       /* default for routes; 0 → 32 MiB */
    unsigned max_connections;    /* 0 → 1024 */
    unsigned shutdown_timeout_ms; /* in-flight bound at stop; 0 → 10 s */
    scry_http_observe_fn observe;
    void *observe_ud;
};

/* Binds the listening socket. SCRY_EIO "listen 127.0.0.1:9090: Address
 * already in use" and SCRY_EINVAL for a bad address. */
int scry_http_server_create(struct scry_http_server **out, const struct scry_http_opts *opts,
                            struct scry_err *err);
/* Adds a route (before start). method NULL matches any method; a path that
 * matches with another method gets 405. max_body_bytes 0 → the default. */
void scry_http_server_route(struct scry_http_server *srv, const char *method,
                            const char *pattern, scry_http_handler_fn fn, void *ud,
                            size_t max_body_bytes);
/* Makes the route added last answer unsupported Content-Encodings itself:
 * its handler runs with an empty body (the header tells it why) instead of
 * core's 415 (Loki's push answers those with its own 400). */
void scry_http_server_route_own_encoding(struct scry_http_server *srv);
int scry_http_server_start(struct scry_http_server *srv, struct scry_err *err);
/* The bound port (resolved when the listen address said 0). */
int scry_http_server_port(const struct scry_http_server *srv);
/* Stops accepting, waits for in-flight requests (bounded), closes. */
void scry_http_server_stop(struct scry_http_server *srv);
void scry_http_server_destroy(struct scry_http_server *srv); /* NULL is a no-op */

/* Decodes application/x-www-form-urlencoded text (+ is space, %XX) into
 * params appended to *v (arena-grown). Exposed for tests and fuzzing. */
int scry_http_form_parse(struct scry_arena *a, const char *s, size_t len,
                         struct scry_http_param **v, size_t *n, size_t *cap,
                         struct scry_err *err);
/* Decodes a body by Content-Encoding ("gzip", "deflate", "snappy",
 * "identity"/NULL), refusing output over max_bytes with SCRY_ELIMIT. The
 * result is arena-allocated and NUL-terminated. */
int scry_http_body_decode(struct scry_arena *a, const char *encoding, const char *in,
                          size_t in_len, size_t max_bytes, const char **out, size_t *out_len,
                          struct scry_err *err);

#endif
