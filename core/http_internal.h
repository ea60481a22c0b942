/* http_internal.h — shared by core/http*.c only, not API (STYLE.md §2). */
#ifndef SCRY_CORE_HTTP_INTERNAL_H
#define SCRY_CORE_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <microhttpd.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/http.h"

/* Response bodies up to this size go out whole; larger ones are gzipped
 * when the client accepts it (http_resp.c). */
#define SCRY__HTTP_GZIP_MIN_BYTES 1024u
/* A streamed body is produced on a worker in pieces of about this size
 * (http_resp.c). */
#define SCRY__HTTP_STREAM_PIECE_BYTES (1u << 20)

/* ---- the worker threads (http_workers.c) ---- */

struct scry__http_workers;
struct scry__http_workers *scry__http_workers_new(void);
/* Runs fn(arg) on an idle worker or a new one. false once draining began:
 * the caller runs it itself. */
bool scry__http_workers_submit(struct scry__http_workers *w, void (*fn)(void *), void *arg);
/* Lets the queued and running jobs finish, then ends every worker. */
void scry__http_workers_drain(struct scry__http_workers *w);
void scry__http_workers_free(struct scry__http_workers *w);

/* ---- the server and its requests (http.c) ---- */

struct http_route {
    char *method;  /* NULL: any */
    char *pattern; /* as given, reported to the observer */
    char **seg;    /* pattern split at '/'; ":x" parameter, "*x" rest of path */
    size_t n_seg;
    scry_http_handler_fn fn;
    void *ud;
    size_t max_body_bytes;
    bool own_unknown_encoding; /* the handler answers unsupported encodings */
};

struct scry_http_server {
    struct MHD_Daemon *daemon;
    int fd; /* listening socket; -1 once MHD has closed it */
    int port;
    struct scry_http_opts opts;
    struct http_route *routes;
    size_t n_routes, cap_routes;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when in_flight drops to 0 */
    unsigned in_flight;
    atomic_bool stopping; /* tells upgraded sessions to end */
    struct scry__http_workers *workers;
};

struct http_request {
    struct scry_http_server *srv;
    struct scry_http_req req;
    const struct http_route *route;
    struct scry_http_param *pp; /* path params */
    size_t n_pp;
    struct scry_buf raw; /* the body as received */
    size_t limit;
    size_t drained; /* bytes discarded after the limit tripped */
    bool too_large;
    bool dispatched;       /* the handler runs (ran) on a worker */
    bool responded;
    int status;
    struct MHD_Connection *conn;
    struct MHD_Response *ready; /* the worker's answer, queued when MHD resumes us */
    scry_http_upgrade_fn up_fn; /* set when the response is a 101 upgrade */
    void *up_ud;
    struct timespec t0;
};


/* ---- responses (http_resp.c, http_upgrade.c) ---- */

/* Builds the MHD response for resp: a buffered body (gzipped when worth it
 * and accepted), a streamed body (resp.stream) or a 101 upgrade. Takes the
 * body's bytes; sets r->status. NULL when MHD cannot make one. Runs on a
 * worker or on MHD's thread. */
struct MHD_Response *scry__http_make_resp(struct http_request *r, struct MHD_Connection *conn,
                                          struct scry_http_resp *resp);
/* Queues mr (from scry__http_make_resp) on MHD's thread and drops our
 * reference; sets r->responded. */
enum MHD_Result scry__http_queue(struct http_request *r, struct MHD_Connection *conn,
                                 struct MHD_Response *mr);
/* make + queue, on MHD's thread: errors found before any handler ran. */
enum MHD_Result scry__http_send_resp(struct http_request *r, struct MHD_Connection *conn,
                                     struct scry_http_resp *resp);
/* The 101 response for resp.upgrade; the session runs in http_upgrade.c. */
struct MHD_Response *scry__http_make_upgrade(struct http_request *r,
                                             struct scry_http_resp *resp);

/* Percent-decodes s[0..len) into a NUL-terminated arena string; with
 * plus_is_space, '+' becomes ' ' (form and query encoding, not paths).
 * SCRY_EPARSE for a '%' not followed by two hex digits. */
int scry__http_unescape(struct scry_arena *a, const char *s, size_t len, bool plus_is_space,
                        char **out, size_t *out_len, struct scry_err *err);

/* Appends one parameter to the arena-grown vector *v. */
void scry__http_param_push(struct scry_arena *a, struct scry_http_param **v, size_t *n,
                           size_t *cap, const char *key, const char *value);

/* gzip-compresses in into out (appending) for responses. Returns false when
 * zlib fails, leaving out unspecified. */
bool scry__http_gzip(const char *in, size_t len, struct scry_buf *out);

#endif
