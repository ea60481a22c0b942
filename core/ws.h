/* ws.h — WebSocket (RFC 6455) framing for the server side: the handshake
 * key, a reader that turns client bytes into messages, and frame headers
 * for what the server sends.
 *
 * The reader enforces what a server must (§5.1–5.5): client frames are
 * masked, reserved bits are zero (no extension is negotiated), opcodes are
 * known, control frames are final and carry at most 125 bytes, a
 * continuation only follows an unfinished data frame and a new data frame
 * only a finished one, the 64-bit length has its top bit clear. A message
 * larger than max_msg_bytes is SCRY_ELIMIT (close code 1009). Text payloads
 * are not checked for UTF-8: scry only reads control frames from clients.
 * Not thread-safe; one reader per connection. */
#ifndef SCRY_CORE_WS_H
#define SCRY_CORE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum {
    SCRY_WS_CONT = 0x0,
    SCRY_WS_TEXT = 0x1,
    SCRY_WS_BINARY = 0x2,
    SCRY_WS_CLOSE = 0x8,
    SCRY_WS_PING = 0x9,
    SCRY_WS_PONG = 0xA,
};

#define SCRY_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define SCRY_WS_MAX_HEADER 10 /* a server frame header: 2 + 8 length bytes */

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64 of the
 * SHA-1 of the key and RFC 6455's GUID. out gets 28 chars and a NUL. */
void scry_ws_accept_key(const char *key, size_t len, char out[SCRY_WS_ACCEPT_LEN + 1]);

/* Writes an unmasked, final frame header for a payload of len bytes;
 * returns its length (2, 4 or 10). */
size_t scry_ws_frame_header(uint8_t out[SCRY_WS_MAX_HEADER], int opcode, uint64_t len);

struct scry_ws_msg {
    int opcode; /* TEXT, BINARY (whole message) or CLOSE, PING, PONG */
    const uint8_t *p; /* unmasked payload; valid until the next call */
    size_t len;
};

struct scry_ws_reader {
    struct scry_buf in;  /* received, not yet parsed */
    size_t off;          /* parsed bytes at the front of in */
    struct scry_buf msg; /* fragments of the message being assembled */
    int msg_opcode;      /* TEXT/BINARY while assembling, else 0 */
    size_t max_msg_bytes;
};

void scry_ws_reader_init(struct scry_ws_reader *r, size_t max_msg_bytes);
void scry_ws_reader_fini(struct scry_ws_reader *r);
/* Appends received bytes. */
void scry_ws_reader_feed(struct scry_ws_reader *r, const void *p, size_t len);
/* The next message: 1 and *m filled, 0 when more bytes are needed, or a
 * negative SCRY_EINVAL (protocol error, close code 1002) / SCRY_ELIMIT
 * (close code 1009) with err set. After an error the reader is unusable. */
int scry_ws_reader_next(struct scry_ws_reader *r, struct scry_ws_msg *m, struct scry_err *err);

#endif
