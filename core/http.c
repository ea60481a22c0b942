/* http.c — the server: listening socket, routing, request lifecycle.
 *
 * Threading. libmicrohttpd's one polling thread (epoll) reads requests and
 * writes answers; once a request is complete its connection is suspended and
 * the rest (body decoding, the handler, gzip, the pieces of a streamed body,
 * an upgraded session) runs on a worker of http_workers.c, which resumes the
 * connection with the answer ready. A query handler may block for seconds (a
 * range query over a week, a Loki search over cold segments); a job never
 * waits behind another, since a busy pool grows, so a slow query stalls
 * neither the health check nor /metrics. The workers are kept between
 * requests: MHD's thread per connection cost up to ~0.3 ms of CPU per
 * connection to create and end on a busy machine (http_workers.c).
 *
 * Request lifecycle (MHD calls the access handler several times):
 *   1st call   headers are in. Create the request state and its arena, match
 *              the route (404/405 answered at once), check Content-Length
 *              against the route's body limit: over it, nothing is stored.
 *              With "Expect: 100-continue", or an excess over 4 MiB, the 413
 *              goes out at once and the body is never read; otherwise the
 *              body is drained and the 413 sent after it, because a client
 *              still writing often misses an answer sent before the reset.
 *   next calls body bytes: appended to a heap buffer until the limit. A
 *              chunked body has no Content-Length, so the limit can only trip
 *              mid-upload; MHD cannot queue a response then, so we stop
 *              storing, drain what still comes (past 4 MiB more we drop the
 *              connection) and answer 413 at the end.
 *   last call  (upload_data_size 0) suspend the connection and hand the
 *              request to a worker, which decodes the body by
 *              Content-Encoding, parses parameters, runs the handler, builds
 *              its response (http_resp.c: buffered, streamed, or a 101
 *              upgrade whose session runs in http_upgrade.c) and resumes.
 *   resumed    MHD calls once more: queue the worker's response.
 *   completed  MHD_OPTION_NOTIFY_COMPLETED: observe callback, free the body,
 *              destroy the arena, decrement the in-flight count.
 *
 * URLs: an identity MHD_OPTION_UNESCAPE_CALLBACK keeps MHD from decoding the
 * path and the query values, so "%2F" inside a path parameter does not split
 * a segment, and a bad escape is our 400 rather than silently kept. MHD
 * still turns '+' into ' ' in the query and keeps repeated keys in order;
 * we percent-decode the rest (http_params.c).
 *
 * Shutdown: MHD_quiesce_daemon stops accepting (it needs MHD_USE_ITC), we
 * wait on a condition variable until the in-flight count drops to 0 or the
 * shutdown timeout passes, then let the workers finish their jobs (MHD must
 * not stop with a connection suspended; a request arriving meanwhile on a
 * kept-alive connection runs on MHD's thread) and MHD_stop_daemon closes the
 * idle connections. A handler still running after the timeout is waited
 * for: a thread cannot be cancelled safely in the middle of a query, so the
 * bound holds only for handlers that finish. */
#include "core/http.h"
#include "core/http_internal.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define DEFAULT_MAX_BODY_BYTES (32u << 20)
#define DEFAULT_MAX_CONNECTIONS 1024u
#define DEFAULT_SHUTDOWN_TIMEOUT_MS 10000u
#define CONNECTION_TIMEOUT_S 60u
#define MAX_SEGMENTS 32
#define DRAIN_MAX_BYTES (4u << 20) /* read past the body limit before hanging up */

/* ---- listening socket -------------------------------------------------- */

/* Splits "HOST:PORT" / "[V6]:PORT" / ":PORT"; host is "" for all addresses. */
static int split_listen(const char *addr, char *host, size_t host_cap, char *port,
                        size_t port_cap, struct scry_err *err)
{
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return scry_err_set(err, SCRY_EINVAL, "listen \"%s\": bad address", addr);
        h = addr + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return scry_err_set(err, SCRY_EINVAL, "listen \"%s\": missing port", addr);
        hlen = (size_t)(colon - addr);
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (hlen >= host_cap || plen == 0 || plen >= port_cap ||
        strspn(p, "0123456789") != plen || atol(p) > 65535)
        return scry_err_set(err, SCRY_EINVAL, "listen \"%s\": bad address or port", addr);
    memcpy(host, h, hlen);
    host[hlen] = 0;
    memcpy(port, p, plen + 1);
    return 0;
}

/* One bound, listening, non-blocking socket for the address. Hostnames
 * prefer IPv4 ("localhost" is 127.0.0.1, as Go's net.Listen does); an empty
 * host is the IPv6 wildcard with V6ONLY off (both families), or 0.0.0.0
 * where IPv6 is unavailable. */
static int bind_listen(const char *addr, int *fd_out, int *port_out, struct scry_err *err)
{
    char host[256], port[8];
    int rc = split_listen(addr, host, sizeof host, port, sizeof port, err);
    if (rc)
        return rc;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
    /* "localhost" means loopback even where /etc/hosts is missing (minimal
     * containers and chroots), as it does for Go's resolver. */
    const char *h = !strcasecmp(host, "localhost") ? "127.0.0.1" : host;
    int gai = getaddrinfo(h[0] ? h : NULL, port, &hints, &res);
    if (gai != 0 && !host[0]) {
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gai != 0)
        return scry_err_set(err, SCRY_EINVAL, "listen %s: %s", addr, gai_strerror(gai));
    struct addrinfo *ai = res;
    for (struct addrinfo *it = res; it; it = it->ai_next)
        if (it->ai_family == AF_INET) {
            ai = it;
            break;
        }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0) {
        rc = scry_err_sys(err, SCRY_EIO, "listen %s: socket", addr);
        goto out;
    }
    /* SO_REUSEADDR lets a restarted server bind while old connections sit in
     * TIME_WAIT; on Linux it does not let two servers share a port. */
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && !host[0])
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        rc = scry_err_sys(err, SCRY_EIO, "listen %s", addr);
        close(fd);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
out:
    freeaddrinfo(res);
    return rc;
}

/* ---- server ------------------------------------------------------------ */

int scry_http_server_create(struct scry_http_server **out, const struct scry_http_opts *opts,
                            struct scry_err *err)
{
    if (!out || !opts || !opts->listen)
        return scry_err_set(err, SCRY_EINVAL, "http server: no listen address");
    struct scry_http_server *srv = scry_calloc(1, sizeof *srv);
    srv->fd = -1;
    srv->opts = *opts;
    srv->opts.listen = NULL; /* borrowed; not needed after bind */
    if (!srv->opts.max_body_bytes)
        srv->opts.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    if (!srv->opts.max_connections)
        srv->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!srv->opts.shutdown_timeout_ms)
        srv->opts.shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->idle, &ca);
    pthread_condattr_destroy(&ca);
    int rc = bind_listen(opts->listen, &srv->fd, &srv->port, err);
    if (rc != 0) {
        scry_http_server_destroy(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

/* Splits a pattern or a path at '/' after the leading one: "/a/b" → a, b;
 * "/" → nothing; "/a/" → a, "". Returns the count, or SIZE_MAX when there are
 * more than max. starts[i] is the offset of segment i in s. */
static size_t split_path(const char *s, size_t len, size_t *starts, size_t *lens, size_t max)
{
    assert(len > 0 && s[0] == '/');
    if (len == 1)
        return 0;
    size_t n = 0, i = 1;
    for (;;) {
        const char *slash = memchr(s + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - s) : len;
        if (n == max)
            return SIZE_MAX;
        starts[n] = i;
        lens[n] = end - i;
        n++;
        if (!slash)
            return n;
        i = end + 1;
    }
}

void scry_http_server_route_own_encoding(struct scry_http_server *srv)
{
    SCRY_ASSERT(srv && srv->n_routes > 0);
    srv->routes[srv->n_routes - 1].own_unknown_encoding = true;
}

void scry_http_server_route(struct scry_http_server *srv, const char *method,
                            const char *pattern, scry_http_handler_fn fn, void *ud,
                            size_t max_body_bytes)
{
    SCRY_ASSERT(srv && pattern && pattern[0] == '/' && fn);
    assert(!srv->daemon); /* the table is read without a lock once started */
    size_t starts[MAX_SEGMENTS], lens[MAX_SEGMENTS];
    size_t n = split_path(pattern, strlen(pattern), starts, lens, MAX_SEGMENTS);
    SCRY_ASSERT(n != SIZE_MAX);
    if (srv->n_routes == srv->cap_routes) {
        srv->cap_routes = srv->cap_routes ? srv->cap_routes * 2 : 16;
        srv->routes = scry_realloc(srv->routes, srv->cap_routes * sizeof *srv->routes);
    }
    struct http_route *r = &srv->routes[srv->n_routes++];
    memset(r, 0, sizeof *r);
    r->method = method ? scry_strdup(method) : NULL;
    r->pattern = scry_strdup(pattern);
    r->seg = scry_calloc(n ? n : 1, sizeof *r->seg);
    r->n_seg = n;
    for (size_t i = 0; i < n; i++) {
        r->seg[i] = scry_strndup(pattern + starts[i], lens[i]);
        /* a catch-all must be last */
        SCRY_ASSERT(r->seg[i][0] != '*' || i == n - 1);
    }
    r->fn = fn;
    r->ud = ud;
    r->max_body_bytes = max_body_bytes;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls);
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

/* MHD's URL unescaping, turned off: we decode path segments and query
 * values ourselves (see the file comment). */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
    return strlen(s);
}

int scry_http_server_start(struct scry_http_server *srv, struct scry_err *err)
{
    if (!srv || srv->fd < 0 || srv->daemon)
        return scry_err_set(err, SCRY_EINVAL, "http server: not startable");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
    srv->workers = scry__http_workers_new();
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, srv->opts.max_connections,
        /* Headers must fit here; MHD answers 431 beyond it. Go allows 1 MiB,
         * but Grafana sends long queries as POST bodies. At 32 KiB MHD takes
         * the pool from malloc; above it, it mmaps a fresh pool for every
         * connection and zeroes it: 16 page faults and an munmap per
         * request, which cost 0.6 ms of CPU per query here. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_END);
    if (!srv->daemon) {
        scry__http_workers_free(srv->workers);
        srv->workers = NULL;
        return scry_err_set(err, SCRY_EIO, "http server: MHD_start_daemon failed");
    }
    return 0;
}

int scry_http_server_port(const struct scry_http_server *srv) { return srv ? srv->port : 0; }

void scry_http_server_stop(struct scry_http_server *srv)
{
    if (!srv || !srv->daemon)
        return;
    MHD_socket s = MHD_quiesce_daemon(srv->daemon);
    atomic_store(&srv->stopping, true); /* upgraded sessions count as in flight */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += srv->opts.shutdown_timeout_ms / 1000;
    deadline.tv_nsec += (long)(srv->opts.shutdown_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    while (srv->in_flight > 0)
        if (pthread_cond_timedwait(&srv->idle, &srv->mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&srv->mu);
    scry__http_workers_drain(srv->workers);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    scry__http_workers_free(srv->workers);
    srv->workers = NULL;
    /* After a successful quiesce the socket is ours to close; otherwise
     * MHD_stop_daemon closed it. */
    if (s != MHD_INVALID_SOCKET)
        close(s);
    srv->fd = -1;
}

void scry_http_server_destroy(struct scry_http_server *srv)
{
    if (!srv)
        return;
    scry_http_server_stop(srv);
    if (srv->fd >= 0)
        close(srv->fd);
    for (size_t i = 0; i < srv->n_routes; i++) {
        struct http_route *r = &srv->routes[i];
        for (size_t k = 0; k < r->n_seg; k++)
            free(r->seg[k]);
        free(r->seg);
        free(r->method);
        free(r->pattern);
    }
    free(srv->routes);
    pthread_cond_destroy(&srv->idle);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

/* The error envelope as the whole response; for errors found by this layer. */
static struct MHD_Response *make_error_v(struct http_request *r, struct MHD_Connection *conn,
                                         int status, const char *error_type, const char *allow,
                                         const char *fmt, va_list ap)
{
    struct scry_http_resp resp = { .status = status };
    char msg[SCRY_ERR_MSG_MAX + 128];
    vsnprintf(msg, sizeof msg, fmt, ap);
    scry_http_error(&resp, status, error_type, "%s", msg);
    if (allow)
        scry_http_resp_header(&resp, "Allow", allow);
    return scry__http_make_resp(r, conn, &resp);
}

/* On a worker: the response, queued once MHD resumes the connection. */
static struct MHD_Response *make_error(struct http_request *r, struct MHD_Connection *conn,
                                       int status, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct MHD_Response *make_error(struct http_request *r, struct MHD_Connection *conn,
                                       int status, const char *error_type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *mr = make_error_v(r, conn, status, error_type, NULL, fmt, ap);
    va_end(ap);
    return mr;
}

/* On MHD's thread, before any handler ran: queued at once. */
static enum MHD_Result send_error(struct http_request *r, struct MHD_Connection *conn, int status,
                                  const char *error_type, const char *allow, const char *fmt,
                                  ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(struct http_request *r, struct MHD_Connection *conn, int status,
                                  const char *error_type, const char *allow, const char *fmt,
                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *mr = make_error_v(r, conn, status, error_type, allow, fmt, ap);
    va_end(ap);
    return scry__http_queue(r, conn, mr);
}

/* ---- requests ---------------------------------------------------------- */

static bool method_matches(const struct http_route *rt, const char *method)
{
    if (!rt->method)
        return true;
    if (strcmp(rt->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0;
}

/* Matches the decoded segments against one route; on success fills the
 * request's path parameters. raw is the undecoded path, for a catch-all. */
static bool route_matches(struct http_request *r, const struct http_route *rt, char **seg, size_t n,
                          const char *raw, const size_t *starts)
{
    bool rest = rt->n_seg > 0 && rt->seg[rt->n_seg - 1][0] == '*';
    if (rest ? n < rt->n_seg - 1 : n != rt->n_seg)
        return false;
    for (size_t i = 0; i < rt->n_seg; i++) {
        const char *ps = rt->seg[i];
        if (ps[0] != ':' && ps[0] != '*' && strcmp(ps, seg[i]) != 0)
            return false;
    }
    struct scry_arena *a = r->req.arena;
    size_t cap = 0;
    r->pp = NULL;
    r->n_pp = 0;
    for (size_t i = 0; i < rt->n_seg; i++) {
        const char *ps = rt->seg[i];
        if (ps[0] == ':') {
            scry__http_param_push(a, &r->pp, &r->n_pp, &cap, ps + 1, seg[i]);
        } else if (ps[0] == '*') {
            char *v = "";
            if (i < n) /* segments were decoded already, so this cannot fail */
                scry__http_unescape(a, raw + starts[i], strlen(raw + starts[i]), false, &v,
                                    NULL, NULL);
            scry__http_param_push(a, &r->pp, &r->n_pp, &cap, ps + 1, v);
        }
    }
    return true;
}

/* Routes the request: 0, or an HTTP status (400, 404, 405) with *allow set
 * for 405. */
static int route_request(struct http_request *r, const char *url, const char **allow,
                         struct scry_err *err)
{
    struct scry_http_server *srv = r->srv;
    struct scry_arena *a = r->req.arena;
    size_t len = strlen(url);
    if (len == 0 || url[0] != '/')
        return scry_err_set(err, SCRY_EINVAL, "invalid request path"), 400;
    size_t starts[MAX_SEGMENTS], lens[MAX_SEGMENTS];
    size_t n = split_path(url, len, starts, lens, MAX_SEGMENTS);
    if (n == SIZE_MAX)
        return scry_err_set(err, SCRY_ENOTFOUND, "path %.200s has too many segments", url), 404;
    char *seg[MAX_SEGMENTS];
    for (size_t i = 0; i < n; i++)
        if (scry__http_unescape(a, url + starts[i], lens[i], false, &seg[i], NULL, err) != 0)
            return 400;
    char *path;
    if (scry__http_unescape(a, url, len, false, &path, NULL, err) != 0)
        return 400;
    r->req.path = path;
    struct scry_buf methods = { 0 };
    for (size_t i = 0; i < srv->n_routes; i++) {
        const struct http_route *rt = &srv->routes[i];
        if (!route_matches(r, rt, seg, n, url, starts))
            continue;
        if (method_matches(rt, r->req.method)) {
            r->route = rt;
            scry_buf_fini(&methods);
            return 0;
        }
        if (methods.len)
            scry_buf_puts(&methods, ", ");
        scry_buf_puts(&methods, rt->method);
    }
    r->n_pp = 0;
    if (methods.len) {
        *allow = scry_arena_strdup(a, methods.p);
        scry_buf_fini(&methods);
        scry_err_set(err, SCRY_EINVAL, "method %s not allowed for %s", r->req.method, path);
        return 405;
    }
    scry_err_set(err, SCRY_ENOTFOUND, "no route for %s %s", r->req.method, path);
    return 404;
}

static enum MHD_Result begin(struct http_request *r, struct MHD_Connection *conn, const char *url)
{
    struct scry_err err = { 0 };
    const char *allow = NULL;
    int status = route_request(r, url, &allow, &err);
    if (status == 400)
        return send_error(r, conn, 400, "bad_data", NULL, "invalid path: %s", err.msg);
    if (status == 404)
        return send_error(r, conn, 404, "not_found", NULL, "%s", err.msg);
    if (status == 405)
        return send_error(r, conn, 405, "method_not_allowed", allow, "%s", err.msg);
    assert(status == 0 && r->route);
    r->req.route = r->route->pattern;
    r->limit = r->route->max_body_bytes ? r->route->max_body_bytes : r->srv->opts.max_body_bytes;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || *end)
            return send_error(r, conn, 400, "bad_data", NULL, "invalid Content-Length");
        if (n > r->limit) {
            /* Answer now if the client waits for "100 Continue" (it then
             * never sends the body) or the excess is too big to drain. A
             * client already sending would see its connection closed under
             * it, often before it reads our answer, so a moderate excess is
             * drained and answered at the end, as Go's server does. */
            const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
            if ((expect && strcasecmp(expect, "100-continue") == 0) ||
                n - r->limit > DRAIN_MAX_BYTES)
                return send_error(r, conn, 413, "bad_data", NULL,
                                  "request body of %llu bytes exceeds the limit of %zu bytes",
                                  n, r->limit);
            r->too_large = true;
            return MHD_YES;
        }
        scry_buf_reserve(&r->raw, (size_t)n);
    }
    return MHD_YES;
}

/* Takes one piece of the upload; see the file comment for the limit. */
static enum MHD_Result absorb(struct http_request *r, const char *data, size_t n)
{
    if (r->too_large || r->responded) {
        r->drained += n;
        return r->drained > DRAIN_MAX_BYTES ? MHD_NO : MHD_YES;
    }
    if (n > r->limit - r->raw.len) {
        r->too_large = true;
        r->drained = n;
        scry_buf_fini(&r->raw);
        return MHD_YES;
    }
    if (r->raw.cap - r->raw.len <= n) {
        /* Double rather than buf.c's 1 MiB steps: a chunked 32 MiB body
         * would otherwise be copied 32 times. */
        size_t want = r->raw.len > n ? r->raw.len : n;
        if (want > r->limit - r->raw.len)
            want = r->limit - r->raw.len;
        scry_buf_reserve(&r->raw, want);
    }
    scry_buf_put(&r->raw, data, n);
    return MHD_YES;
}

struct args_ctx {
    struct http_request *r;
    size_t cap;
    int rc;
    struct scry_err *err;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct args_ctx *c = cls;
    struct scry_arena *a = c->r->req.arena;
    struct scry_http_param **v = (struct scry_http_param **)&c->r->req.params;
    char *k, *val = "";
    c->rc = scry__http_unescape(a, key, strlen(key), true, &k, NULL, c->err);
    if (c->rc == 0 && value)
        c->rc = scry__http_unescape(a, value, strlen(value), true, &val, NULL, c->err);
    if (c->rc != 0)
        return MHD_NO;
    scry__http_param_push(a, v, &c->r->req.n_params, &c->cap, k, val);
    return MHD_YES;
}

static bool is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (!ct || strncasecmp(ct, form, sizeof form - 1) != 0)
        return false;
    char c = ct[sizeof form - 1];
    return c == 0 || c == ';' || c == ' ' || c == '\t';
}

/* The body is complete: decode it, collect parameters, run the handler.
 * Runs on a worker, with the connection suspended; NULL when MHD could not
 * make a response (the connection is dropped). */
static struct MHD_Response *respond(struct http_request *r, struct MHD_Connection *conn)
{
    struct scry_http_req *req = &r->req;
    struct scry_err err = { 0 };
    const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
    if (!enc || !*enc || strcasecmp(enc, "identity") == 0) {
        req->body = r->raw.p ? r->raw.p : ""; /* freed at completion, no copy */
        req->body_len = r->raw.len;
    } else {
        int rc = scry_http_body_decode(req->arena, enc, r->raw.p, r->raw.len, r->limit,
                                       &req->body, &req->body_len, &err);
        scry_buf_fini(&r->raw);
        if (rc == SCRY_ELIMIT)
            return make_error(r, conn, 413, "bad_data", "%s", err.msg);
        if (rc == SCRY_EINVAL && r->route->own_unknown_encoding) {
            req->body = "";
            req->body_len = 0;
        } else if (rc == SCRY_EINVAL) {
            return make_error(r, conn, 415, "bad_data", "%s", err.msg);
        } else if (rc != 0) {
            return make_error(r, conn, 400, "bad_data", "%s", err.msg);
        }
    }
    struct args_ctx ac = { .r = r, .err = &err };
    if (is_form(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"))) {
        struct scry_http_param *v = NULL;
        if (scry_http_form_parse(req->arena, req->body, req->body_len, &v, &req->n_params,
                                 &ac.cap, &err) != 0)
            return make_error(r, conn, 400, "bad_data", "invalid form body: %s",
                              err.msg);
        req->params = v;
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &ac);
    if (ac.rc != 0)
        return make_error(r, conn, 400, "bad_data", "invalid query string: %s", err.msg);
    req->path_params = r->pp;
    req->n_path_params = r->n_pp;
    req->conn = conn;

    struct scry_http_resp resp = { .status = 200 };
    r->route->fn(req, &resp, r->route->ud);
    struct MHD_Response *mr = scry__http_make_resp(r, conn, &resp);
    scry_buf_fini(&resp.body); /* empty unless scry__http_make_resp failed early */
    return mr;
}

static void respond_job(void *arg)
{
    struct http_request *r = arg;
    r->ready = respond(r, r->conn);
    MHD_resume_connection(r->conn);
}

/* The request is complete: hand it to a worker (answered in on_access once
 * MHD resumes the connection). */
static enum MHD_Result dispatch(struct http_request *r, struct MHD_Connection *conn)
{
    if (r->too_large)
        return send_error(r, conn, 413, "bad_data", NULL,
                          "request body exceeds the limit of %zu bytes", r->limit);
    r->dispatched = true;
    r->conn = conn;
    MHD_suspend_connection(conn);
    if (!scry__http_workers_submit(r->srv->workers, respond_job, r))
        respond_job(r); /* stopping: the workers are gone */
    return MHD_YES;
}

static struct http_request *request_new(struct scry_http_server *srv, struct MHD_Connection *conn,
                                   const char *method)
{
    struct http_request *r = scry_calloc(1, sizeof *r);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->srv = srv;
    r->req.arena = scry_arena_create(0);
    r->req.method = scry_arena_strdup(r->req.arena, method);
    r->req.path = "";
    r->req.route = "";
    r->req.conn = conn;
    pthread_mutex_lock(&srv->mu);
    srv->in_flight++;
    pthread_mutex_unlock(&srv->mu);
    return r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct scry_http_server *srv = cls;
    struct http_request *r = *con_cls;
    if (!r) {
        r = request_new(srv, conn, method);
        *con_cls = r;
        return begin(r, conn, url);
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        return absorb(r, upload, n);
    }
    if (r->responded) /* answered early (404, 413 by Content-Length, ...) */
        return MHD_YES;
    if (r->dispatched) { /* resumed: the worker's answer is ready */
        struct MHD_Response *mr = r->ready;
        r->ready = NULL;
        return scry__http_queue(r, conn, mr);
    }
    return dispatch(r, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct scry_http_server *srv = cls;
    struct http_request *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (srv->opts.observe) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
        /* 499 (nginx's "client closed request") when no response was queued */
        srv->opts.observe(srv->opts.observe_ud, r->req.method,
                          r->route ? r->route->pattern : "", r->responded ? r->status : 499, s);
    }
    scry_buf_fini(&r->raw);
    scry_arena_destroy(r->req.arena);
    free(r);
    pthread_mutex_lock(&srv->mu);
    assert(srv->in_flight > 0);
    if (--srv->in_flight == 0)
        pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->mu);
}
