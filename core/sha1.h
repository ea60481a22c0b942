/* sha1.h — SHA-1 (FIPS 180-4), for the WebSocket handshake only.
 *
 * RFC 6455 derives Sec-WebSocket-Accept from SHA-1 of the client's key; that
 * is its only use here, so this is a small, portable, unoptimised version
 * (about 300 MB/s, irrelevant for 60-byte inputs). SHA-1 is broken for
 * collision resistance: never use it for anything that must be secure. */
#ifndef SCRY_CORE_SHA1_H
#define SCRY_CORE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SCRY_SHA1_LEN 20

/* Caller-owned state: init, update any number of times, final. */
struct scry_sha1 {
    uint32_t h[5];
    uint64_t n_bytes; /* total so far */
    uint8_t buf[64];  /* a partial block */
    size_t len;       /* bytes in buf */
};

void scry_sha1_init(struct scry_sha1 *s);
void scry_sha1_update(struct scry_sha1 *s, const void *p, size_t len);
void scry_sha1_final(struct scry_sha1 *s, uint8_t out[SCRY_SHA1_LEN]);
/* One shot. */
void scry_sha1(const void *p, size_t len, uint8_t out[SCRY_SHA1_LEN]);

#endif
