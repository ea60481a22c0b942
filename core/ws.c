/* ws.c — WebSocket framing (RFC 6455 §5); see ws.h for the rules kept.
 *
 * Frame layout: byte 0 = FIN, RSV1-3, opcode; byte 1 = MASK, 7-bit length
 * (126: a 16-bit length follows, 127: a 64-bit one); then the 4-byte mask
 * key (client frames always have one) and the payload. The reader keeps
 * unparsed bytes in one buffer and unmasks a frame in place once it is
 * whole, so a control frame costs no copy; only fragmented data messages
 * are copied, into msg. */
#include "core/ws.h"

#include <assert.h>
#include <string.h>

#include "core/sha1.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void scry_ws_accept_key(const char *key, size_t len, char out[SCRY_WS_ACCEPT_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    struct scry_sha1 s;
    uint8_t d[SCRY_SHA1_LEN + 1];
    scry_sha1_init(&s);
    scry_sha1_update(&s, key, len);
    scry_sha1_update(&s, guid, sizeof guid - 1);
    scry_sha1_final(&s, d);
    d[SCRY_SHA1_LEN] = 0;
    /* 20 bytes = 6 full groups of 3 and one of 2 (one '=' of padding) */
    char *o = out;
    for (size_t i = 0; i < SCRY_SHA1_LEN; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 |
                     (i + 2 < SCRY_SHA1_LEN ? d[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = b64[v >> 6 & 63];
        *o++ = i + 2 < SCRY_SHA1_LEN ? b64[v & 63] : '=';
    }
    *o = 0;
    assert(o - out == SCRY_WS_ACCEPT_LEN);
}

size_t scry_ws_frame_header(uint8_t out[SCRY_WS_MAX_HEADER], int opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

void scry_ws_reader_init(struct scry_ws_reader *r, size_t max_msg_bytes)
{
    memset(r, 0, sizeof *r);
    r->max_msg_bytes = max_msg_bytes ? max_msg_bytes : (1u << 20);
}

void scry_ws_reader_fini(struct scry_ws_reader *r)
{
    scry_buf_fini(&r->in);
    scry_buf_fini(&r->msg);
}

void scry_ws_reader_feed(struct scry_ws_reader *r, const void *p, size_t len)
{
    /* Drop what was parsed before growing, so a long session's buffer
     * stays the size of one frame. */
    if (r->off && r->off == r->in.len) {
        r->in.len = r->off = 0;
    } else if (r->off > 4096 && r->off * 2 > r->in.len) {
        memmove(r->in.p, r->in.p + r->off, r->in.len - r->off);
        r->in.len -= r->off;
        r->off = 0;
    }
    scry_buf_put(&r->in, p, len);
}

static bool is_control(int op) { return op >= 0x8; }

/* One whole frame at in[off]: 1 (header fields out), 0 need more, or an error. */
static int frame(struct scry_ws_reader *r, bool *fin, int *op, uint8_t **payload, size_t *plen,
                 struct scry_err *err)
{
    const uint8_t *b = (const uint8_t *)r->in.p + r->off;
    size_t avail = r->in.len - r->off;
    if (avail < 2)
        return 0;
    *fin = b[0] & 0x80;
    *op = b[0] & 0x0f;
    if (b[0] & 0x70)
        return scry_err_set(err, SCRY_EINVAL, "websocket: reserved bits set");
    if (!(b[1] & 0x80))
        return scry_err_set(err, SCRY_EINVAL, "websocket: client frame not masked");
    bool known = *op <= SCRY_WS_BINARY || (*op >= SCRY_WS_CLOSE && *op <= SCRY_WS_PONG);
    if (!known)
        return scry_err_set(err, SCRY_EINVAL, "websocket: unknown opcode %d", *op);
    uint64_t len = b[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (uint64_t)b[2] << 8 | b[3];
        hl = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        if (len >> 63)
            return scry_err_set(err, SCRY_EINVAL, "websocket: length has the top bit set");
        hl = 10;
    }
    if (is_control(*op) && (!*fin || len > 125))
        return scry_err_set(err, SCRY_EINVAL, "websocket: control frame fragmented or over 125 bytes");
    if (len > r->max_msg_bytes)
        return scry_err_set(err, SCRY_ELIMIT, "websocket: frame of %llu bytes over the limit",
                            (unsigned long long)len);
    if (avail - hl < 4 || avail - hl - 4 < len)
        return 0;
    const uint8_t *key = b + hl;
    uint8_t *p = (uint8_t *)r->in.p + r->off + hl + 4;
    for (size_t i = 0; i < len; i++)
        p[i] ^= key[i & 3];
    *payload = p;
    *plen = (size_t)len;
    r->off += hl + 4 + (size_t)len;
    return 1;
}

int scry_ws_reader_next(struct scry_ws_reader *r, struct scry_ws_msg *m, struct scry_err *err)
{
    for (;;) {
        bool fin = false;
        int op = 0;
        uint8_t *p = NULL;
        size_t len = 0;
        int rc = frame(r, &fin, &op, &p, &len, err);
        if (rc <= 0)
            return rc;
        if (is_control(op)) {
            *m = (struct scry_ws_msg){ op, p, len };
            return 1;
        }
        if (op == SCRY_WS_CONT && !r->msg_opcode)
            return scry_err_set(err, SCRY_EINVAL, "websocket: continuation without a message");
        if (op != SCRY_WS_CONT && r->msg_opcode)
            return scry_err_set(err, SCRY_EINVAL, "websocket: new message inside a fragmented one");
        if (op != SCRY_WS_CONT && fin) { /* the common case: one frame, no copy */
            *m = (struct scry_ws_msg){ op, p, len };
            return 1;
        }
        if (op != SCRY_WS_CONT) {
            r->msg_opcode = op;
            r->msg.len = 0;
        }
        if (len > r->max_msg_bytes - r->msg.len)
            return scry_err_set(err, SCRY_ELIMIT, "websocket: message over %zu bytes",
                                r->max_msg_bytes);
        scry_buf_put(&r->msg, p, len);
        if (fin) {
            *m = (struct scry_ws_msg){ r->msg_opcode, (const uint8_t *)r->msg.p, r->msg.len };
            r->msg_opcode = 0;
            return 1;
        }
    }
}
