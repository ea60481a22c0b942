/* http_upgrade.c — protocol upgrades (WebSocket, for Loki's live tail).
 *
 * A handler that sets scry_http_resp.upgrade gets a 101 and then the raw
 * socket, through the scry_http_upgraded_* calls. MHD hands the socket over
 * after the 101 went out; in thread-per-connection mode its upgrade handler
 * runs on the connection's own thread and may block, so the session runs
 * right there. Moved out of http.c unchanged: the request lifecycle there
 * does not need to know how a session reads and writes. */
#include "core/http.h"
#include "core/http_internal.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* MHD hands over the socket after the 101 went out. In thread-per-connection
 * mode this runs on the connection's thread and may block (MHD's contract
 * for MHD_UpgradeHandler), so the session runs right here: no thread of our
 * own, and the request, counted in flight, lives until the session ends,
 * which is how server stop finds and waits for sessions. */
struct scry_http_upgraded {
    struct scry_http_server *srv;
    int fd;
    const char *extra;
    size_t extra_len;
};

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    (void)conn;
    (void)con_cls;
    struct http_request *r = cls;
    struct scry_http_upgraded u = { r->srv, (int)sock, extra_in, extra_in_size };
    assert(r->up_fn);
    r->up_fn(&u, r->up_ud);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

enum MHD_Result scry__http_send_upgrade(struct http_request *r, struct MHD_Connection *conn,
                                        struct scry_http_resp *resp)
{
    r->up_fn = resp->upgrade;
    r->up_ud = resp->upgrade_ud;
    struct MHD_Response *mr = MHD_create_response_for_upgrade(on_upgrade, r);
    if (!mr)
        return MHD_NO;
    for (size_t i = 0; i < resp->n_hdr; i++)
        MHD_add_response_header(mr, resp->hdr_name[i], resp->hdr_value[i]);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, mr);
    MHD_destroy_response(mr);
    r->responded = true;
    r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    return ret;
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
