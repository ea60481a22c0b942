/* http_upgrade.c — protocol upgrades (WebSocket, for Loki's live tail).
 *
 * A handler that sets scry_http_resp.upgrade gets a 101 and then the raw
 * socket, through the scry_http_upgraded_* calls. MHD hands the socket over
 * after the 101 went out, and the session runs on a worker thread. Apart
 * from http.c: the request lifecycle there does not need to know how a
 * session reads and writes. */
#include "core/http.h"
#include "core/http_internal.h"
#include "core/mem.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* MHD hands over the socket after the 101 went out, on its polling
 * thread, which must not block: the session runs on a worker
 * (http_workers.c). The request, counted in flight, lives until the session
 * ends and MHD closes the connection, which is how server stop finds and
 * waits for sessions. */
struct scry_http_upgraded {
    struct scry_http_server *srv;
    int fd;
    const char *extra;
    size_t extra_len;
};

struct session {
    struct http_request *r;
    struct MHD_UpgradeResponseHandle *urh;
    int fd;
    size_t extra_len;
    char extra[]; /* bytes MHD read past the request: a copy, MHD's may go */
};

static void run_session(void *arg)
{
    struct session *ss = arg;
    struct http_request *r = ss->r;
    struct scry_http_upgraded u = { r->srv, ss->fd, ss->extra, ss->extra_len };
    assert(r->up_fn);
    r->up_fn(&u, r->up_ud);
    MHD_upgrade_action(ss->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(ss);
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    (void)conn;
    (void)con_cls;
    struct session *ss = scry_malloc(sizeof *ss + extra_in_size + 1);
    ss->r = cls;
    ss->urh = urh;
    ss->fd = (int)sock;
    ss->extra_len = extra_in_size;
    if (extra_in_size)
        memcpy(ss->extra, extra_in, extra_in_size);
    if (!scry__http_workers_submit(ss->r->srv->workers, run_session, ss))
        run_session(ss); /* stopping: the session sees it and ends at once */
}

struct MHD_Response *scry__http_make_upgrade(struct http_request *r,
                                             struct scry_http_resp *resp)
{
    r->up_fn = resp->upgrade;
    r->up_ud = resp->upgrade_ud;
    struct MHD_Response *mr = MHD_create_response_for_upgrade(on_upgrade, r);
    if (!mr)
        return NULL;
    for (size_t i = 0; i < resp->n_hdr; i++)
        MHD_add_response_header(mr, resp->hdr_name[i], resp->hdr_value[i]);
    r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    return mr;
}

ssize_t scry_http_upgraded_read(struct scry_http_upgraded *u, void *p, size_t cap,
                                int timeout_ms)
{
    if (u->extra_len) {
        size_t n = u->extra_len < cap ? u->extra_len : cap;
        memcpy(p, u->extra, n);
        u->extra += n;
        u->extra_len -= n;
        return (ssize_t)n;
    }
    struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc == 0 || (rc < 0 && errno == EINTR))
        return 0;
    if (rc < 0)
        return -1;
    ssize_t n = recv(u->fd, p, cap, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return n > 0 ? n : -1;
}

int scry_http_upgraded_write(struct scry_http_upgraded *u, const void *p, size_t len)
{
    const char *b = p;
    while (len > 0) {
        ssize_t n = send(u->fd, b, len, MSG_NOSIGNAL);
        if (n > 0) {
            b += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* a reader that takes nothing for 10 s is gone for our purposes */
            struct pollfd pfd = { .fd = u->fd, .events = POLLOUT };
            if (poll(&pfd, 1, 10000) > 0)
                continue;
        }
        return -1;
    }
    return 0;
}

bool scry_http_upgraded_stopping(const struct scry_http_upgraded *u)
{
    return atomic_load(&u->srv->stopping);
}
