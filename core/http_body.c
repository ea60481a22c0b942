/* http_body.c — request bodies by Content-Encoding, and response gzip.
 *
 * Every ingest path gets compressed bodies: remote_write and Loki push send
 * snappy (block format, not the framed one), OTLP exporters gzip, curl users
 * send deflate now and then. A compressed body is a promise about size that
 * we do not trust: a 32 KiB gzip body can inflate to 32 MiB. So the decoded
 * size is limited as strictly as the wire size, and checked before memory is
 * committed: snappy declares its length in a header, which we check against
 * the limit before decoding; zlib streams are inflated into a buffer that
 * grows towards the limit and fail with SCRY_ELIMIT the moment the output
 * would pass it.
 *
 * Output goes into the request arena. For gzip, the trailer's ISIZE (the
 * length mod 2^32) gives the first guess for the size, so an honest body is
 * inflated into one allocation; a lying one costs a few doublings, each
 * bounded by the limit. Multi-member gzip bodies (concatenated files) are
 * read to the end as Go's gzip.Reader does. "deflate" is the zlib format by
 * the RFC, but some clients send raw deflate; we accept both.
 *
 * Response compression lives here too: scry__http_gzip, used by http.c for
 * bodies over 1 KiB when the client accepts gzip (Grafana always does; a
 * range query result compresses 10-20x). */
#include "core/http.h"
#include "core/http_internal.h"

#include <assert.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <snappy-c.h>
#include <zlib.h>

enum { ENC_IDENTITY, ENC_GZIP, ENC_DEFLATE, ENC_SNAPPY, ENC_UNKNOWN };

static int encoding_kind(const char *e)
{
    if (!e || !*e || strcasecmp(e, "identity") == 0)
        return ENC_IDENTITY;
    if (strcasecmp(e, "gzip") == 0 || strcasecmp(e, "x-gzip") == 0)
        return ENC_GZIP;
    if (strcasecmp(e, "deflate") == 0)
        return ENC_DEFLATE;
    if (strcasecmp(e, "snappy") == 0)
        return ENC_SNAPPY;
    return ENC_UNKNOWN;
}

static int decode_snappy(struct scry_arena *a, const char *in, size_t in_len,
                         size_t max_bytes, char **out, size_t *out_len, struct scry_err *err)
{
    size_t n = 0;
    if (snappy_uncompressed_length(in, in_len, &n) != SNAPPY_OK)
        return scry_err_set(err, SCRY_EPARSE, "snappy: corrupt body (bad length header)");
    if (n > max_bytes)
        return scry_err_set(err, SCRY_ELIMIT,
                            "snappy: decoded body of %zu bytes exceeds the limit of %zu bytes",
                            n, max_bytes);
    char *d = scry_arena_alloc(a, n + 1);
    size_t got = n;
    if (snappy_uncompress(in, in_len, d, &got) != SNAPPY_OK || got != n)
        return scry_err_set(err, SCRY_EPARSE, "snappy: corrupt body");
    d[n] = 0;
    *out = d;
    *out_len = n;
    return 0;
}

/* Grows the arena buffer *d (holding len bytes, capacity *cap) towards limit+1. */
static void grow(struct scry_arena *a, char **d, size_t len, size_t *cap, size_t limit)
{
    size_t ncap = *cap * 2;
    if (ncap > limit + 1 || ncap < *cap)
        ncap = limit + 1;
    assert(ncap > *cap);
    char *nd = scry_arena_alloc(a, ncap);
    memcpy(nd, *d, len);
    *d = nd;
    *cap = ncap;
}

/* First guess for the decoded size: gzip's ISIZE trailer, else 4x the input. */
static size_t size_guess(int kind, const unsigned char *in, size_t in_len, size_t max_bytes)
{
    size_t g = in_len <= SIZE_MAX / 4 ? in_len * 4 : SIZE_MAX;
    if (kind == ENC_GZIP && in_len >= 18) {
        const unsigned char *t = in + in_len - 4;
        g = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    }
    if (g < 256)
        g = 256;
    return g > max_bytes ? max_bytes + 1 : g + 1;
}

static int inflate_body(struct scry_arena *a, int kind, const char *in, size_t in_len,
                        size_t max_bytes, int window, char **out, size_t *out_len,
                        struct scry_err *err)
{
    const char *name = kind == ENC_GZIP ? "gzip" : "deflate";
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window) != Z_OK)
        return scry_err_set(err, SCRY_ENOMEM, "%s: inflateInit2 failed", name);
    size_t cap = size_guess(kind, (const unsigned char *)in, in_len, max_bytes), len = 0;
    char *d = scry_arena_alloc(a, cap);
    const unsigned char *p = (const unsigned char *)in;
    size_t left = in_len;
    int rc = 0, zrc = Z_OK;
    for (;;) {
        /* zlib counts in uInt; feed and drain in pieces of at most 1 GiB. */
        if (z.avail_in == 0 && left > 0) {
            z.next_in = (unsigned char *)p;
            z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            p += z.avail_in;
            left -= z.avail_in;
        }
        if (len == cap) {
            if (cap > max_bytes) {
                rc = scry_err_set(err, SCRY_ELIMIT,
                                  "%s: decoded body exceeds the limit of %zu bytes", name,
                                  max_bytes);
                break;
            }
            grow(a, &d, len, &cap, max_bytes);
        }
        size_t room = cap - len > (1u << 30) ? (1u << 30) : cap - len;
        z.next_out = (unsigned char *)d + len;
        z.avail_out = (uInt)room;
        zrc = inflate(&z, Z_NO_FLUSH);
        len += room - z.avail_out;
        if (zrc == Z_STREAM_END) {
            /* Another gzip member may follow (gzip files concatenate). */
            if (kind == ENC_GZIP && (z.avail_in > 0 || left > 0)) {
                inflateReset(&z);
                continue;
            }
            break;
        }
        if (zrc == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            rc = scry_err_set(err, SCRY_EPARSE, "%s: corrupt body: unexpected end of data",
                              name);
            break;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = scry_err_set(err, zrc == Z_MEM_ERROR ? SCRY_ENOMEM : SCRY_EPARSE,
                              "%s: corrupt body: %s", name, z.msg ? z.msg : zError(zrc));
            break;
        }
    }
    inflateEnd(&z);
    if (rc == 0 && len > max_bytes)
        rc = scry_err_set(err, SCRY_ELIMIT, "%s: decoded body exceeds the limit of %zu bytes",
                          name, max_bytes);
    if (rc != 0)
        return rc;
    if (len == cap)
        grow(a, &d, len, &cap, max_bytes + 1); /* room for the terminator */
    d[len] = 0;
    *out = d;
    *out_len = len;
    return 0;
}

int scry_http_body_decode(struct scry_arena *a, const char *encoding, const char *in,
                          size_t in_len, size_t max_bytes, const char **out, size_t *out_len,
                          struct scry_err *err)
{
    if (!a || !out || !out_len || (!in && in_len))
        return scry_err_set(err, SCRY_EINVAL, "body decode: bad arguments");
    int kind = encoding_kind(encoding);
    if (kind == ENC_UNKNOWN)
        return scry_err_set(err, SCRY_EINVAL, "unsupported Content-Encoding \"%s\"", encoding);
    char *d = NULL;
    size_t n = 0;
    int rc = 0;
    if (kind == ENC_IDENTITY || in_len == 0) {
        /* An empty body decodes to an empty body whatever it claims to be. */
        if (in_len > max_bytes)
            return scry_err_set(err, SCRY_ELIMIT, "body of %zu bytes exceeds the limit of %zu bytes",
                                in_len, max_bytes);
        d = scry_arena_strndup(a, in_len ? in : "", in_len);
        n = in_len;
    } else if (kind == ENC_SNAPPY) {
        rc = decode_snappy(a, in, in_len, max_bytes, &d, &n, err);
    } else if (kind == ENC_GZIP) {
        rc = inflate_body(a, kind, in, in_len, max_bytes, 15 + 16, &d, &n, err);
    } else {
        /* zlib or gzip by header (15+32); on a header error retry as raw deflate. */
        rc = inflate_body(a, kind, in, in_len, max_bytes, 15 + 32, &d, &n, err);
        if (rc == SCRY_EPARSE)
            rc = inflate_body(a, kind, in, in_len, max_bytes, -15, &d, &n, NULL) == 0 ? 0 : rc;
    }
    if (rc != 0)
        return rc;
    *out = d;
    *out_len = n;
    return 0;
}

bool scry__http_gzip(const char *in, size_t len, struct scry_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* Level 1: on a query result it is about 3x faster than the default level
     * for a few percent more bytes; the server's CPU is worth more here. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    const unsigned char *p = (const unsigned char *)in;
    size_t left = len;
    int zrc;
    do {
        if (z.avail_in == 0 && left > 0) {
            z.next_in = (unsigned char *)p;
            z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            p += z.avail_in;
            left -= z.avail_in;
        }
        scry_buf_reserve(out, 64 * 1024);
        size_t room = out->cap - out->len - 1;
        if (room > (1u << 30))
            room = 1u << 30;
        z.next_out = (unsigned char *)out->p + out->len;
        z.avail_out = (uInt)room;
        zrc = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        out->len += room - z.avail_out;
        out->p[out->len] = 0;
    } while (zrc == Z_OK || zrc == Z_BUF_ERROR);
    deflateEnd(&z);
    return zrc == Z_STREAM_END;
}
