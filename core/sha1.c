/* sha1.c — SHA-1 after FIPS 180-4 §6.1, written from the specification;
 * see sha1.h for why it exists. Big-endian word loads and stores are done
 * byte by byte, so the code is the same on any host. */
#include "core/sha1.h"

#include <assert.h>
#include <string.h>

static uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20)
            f = (b & c) | (~b & d), k = 0x5A827999u;
        else if (t < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1u;
        else if (t < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDCu;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6u;
        uint32_t tmp = rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void scry_sha1_init(struct scry_sha1 *s)
{
    static const uint32_t h0[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                                    0xC3D2E1F0u };
    memcpy(s->h, h0, sizeof h0);
    s->n_bytes = 0;
    s->len = 0;
}

void scry_sha1_update(struct scry_sha1 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->n_bytes += len;
    if (s->len) {
        size_t take = 64 - s->len < len ? 64 - s->len : len;
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        p += take;
        len -= take;
        if (s->len < 64)
            return;
        block(s->h, s->buf);
        s->len = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        block(s->h, p);
    memcpy(s->buf, p, len);
    s->len = len;
}

void scry_sha1_final(struct scry_sha1 *s, uint8_t out[SCRY_SHA1_LEN])
{
    uint64_t bits = s->n_bytes * 8;
    /* 0x80, zeros to 56 mod 64, then the length in bits, big-endian */
    s->buf[s->len++] = 0x80;
    if (s->len > 56) {
        memset(s->buf + s->len, 0, 64 - s->len);
        block(s->h, s->buf);
        s->len = 0;
    }
    memset(s->buf + s->len, 0, 56 - s->len);
    for (int i = 0; i < 8; i++)
        s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    block(s->h, s->buf);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
    assert(s->n_bytes * 8 == bits);
}

void scry_sha1(const void *p, size_t len, uint8_t out[SCRY_SHA1_LEN])
{
    struct scry_sha1 s;
    scry_sha1_init(&s);
    scry_sha1_update(&s, p, len);
    scry_sha1_final(&s, out);
}
