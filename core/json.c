/* json.c — the streaming JSON writer.
 *
 * The writer keeps one bit per open container ("nothing written here yet")
 * and whether a key was just written, which is all it needs to place commas
 * and colons; it never buffers, so a 100 MB matrix result streams straight
 * into the response buffer.
 *
 * String escaping follows Go's encoding/json, because Grafana and the
 * Prometheus clients compare what we send with what Prometheus sends:
 *   - `"` and `\` get a backslash; \n \r \t their short forms; every other
 *     byte below 0x20 is \u00XX (lower-case hex, as Go writes it);
 *   - U+2028 and U+2029 are written \u2028 / \u2029, as Go does, so the
 *     output is also safe inside a JavaScript string literal;
 *   - each byte that does not start a valid UTF-8 sequence (bad lead byte,
 *     truncated, overlong, surrogate, > U+10FFFF) becomes \ufffd, so our
 *     output is always valid UTF-8 whatever the stored label values hold;
 *   - <, > and & are NOT escaped: Prometheus encodes with jsoniter, which
 *     leaves them alone, and byte-level comparisons with it must hold.
 *
 * Numbers: scry_json_double prints what jsoniter prints for a float64 (the
 * shortest round-trip digits, 'f' notation, 'e' below 1e-6 and from 1e21,
 * via scry_buf_put_double_api) and null for NaN/Inf, which JSON cannot
 * represent. scry_json_double_str prints a Prometheus sample value
 * exactly as Prometheus's jsonutil.MarshalFloat does: shortest round-trip
 * digits in 'f' notation, switching to 'e' when |v| < 1e-6 or |v| >= 1e21,
 * and "NaN", "+Inf", "-Inf" — always as a JSON string. */
#include "core/json.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/labels.h"

static const char hex_digits[] = "0123456789abcdef";

void scry_json_init(struct scry_json *j, struct scry_buf *b)
{
    assert(b);
    memset(j, 0, sizeof *j);
    j->b = b;
    j->first[0] = true;
}

/* Writes the separator a value needs at the current position: nothing after
 * a key or as the first element, a comma otherwise. Top-level values (depth
 * 0) are written back to back without separators. */
static void pre_value(struct scry_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth == 0)
        return;
    if (!j->first[j->depth])
        scry_buf_putc(j->b, ',');
    j->first[j->depth] = false;
}

static void container_open(struct scry_json *j, char c)
{
    pre_value(j);
    scry_buf_putc(j->b, c);
    j->depth++;
    assert(j->depth < SCRY_JSON_MAX_DEPTH);
    j->first[j->depth] = true;
}

static void container_close(struct scry_json *j, char c)
{
    assert(j->depth > 0);
    assert(!j->after_key); /* a key without its value */
    j->depth--;
    scry_buf_putc(j->b, c);
}

void scry_json_obj_begin(struct scry_json *j) { container_open(j, '{'); }
void scry_json_obj_end(struct scry_json *j) { container_close(j, '}'); }
void scry_json_arr_begin(struct scry_json *j) { container_open(j, '['); }
void scry_json_arr_end(struct scry_json *j) { container_close(j, ']'); }

void scry_json_keyn(struct scry_json *j, const char *k, size_t len)
{
    assert(j->depth > 0 && !j->after_key);
    pre_value(j);
    scry_json_escape(j->b, k, len);
    scry_buf_putc(j->b, ':');
    j->after_key = true;
}

void scry_json_key(struct scry_json *j, const char *k) { scry_json_keyn(j, k, strlen(k)); }

void scry_json_str(struct scry_json *j, const char *s)
{
    if (!s) {
        scry_json_null(j);
        return;
    }
    scry_json_strn(j, s, strlen(s));
}

void scry_json_strn(struct scry_json *j, const char *s, size_t len)
{
    pre_value(j);
    scry_json_escape(j->b, s, len);
}

void scry_json_int(struct scry_json *j, int64_t v)
{
    pre_value(j);
    scry_buf_printf(j->b, "%lld", (long long)v);
}

void scry_json_uint(struct scry_json *j, uint64_t v)
{
    pre_value(j);
    scry_buf_printf(j->b, "%llu", (unsigned long long)v);
}

void scry_json_double(struct scry_json *j, double v)
{
    pre_value(j);
    if (!isfinite(v))
        scry_buf_puts(j->b, "null");
    else
        scry_buf_put_double_api(j->b, v); /* jsoniter's float64 encoding */
}

void scry_json_double_str(struct scry_json *j, double v)
{
    pre_value(j);
    scry_buf_putc(j->b, '"');
    scry_buf_put_double_api(j->b, v);
    scry_buf_putc(j->b, '"');
}

void scry_json_bool(struct scry_json *j, bool v)
{
    pre_value(j);
    scry_buf_puts(j->b, v ? "true" : "false");
}

void scry_json_null(struct scry_json *j)
{
    pre_value(j);
    scry_buf_puts(j->b, "null");
}

void scry_json_raw(struct scry_json *j, const char *raw, size_t len)
{
    pre_value(j);
    scry_buf_put(j->b, raw, len);
}

/* ---- escaping ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the bytes there are not one, with the same rules as Go's utf8.DecodeRune.
 * *cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0xc2)
        return 0; /* continuation byte, or an overlong 2-byte lead */
    if (c < 0xe0) {
        len = 2, min = 0x80, c &= 0x1f;
    } else if (c < 0xf0) {
        len = 3, min = 0x800, c &= 0x0f;
    } else if (c < 0xf5) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

void scry_json_escape(struct scry_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    scry_buf_reserve(b, len + 2);
    scry_buf_putc(b, '"');
    size_t start = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            unsigned cp = 0;
            size_t n = utf8_seq(p + i, len - i, &cp);
            if (n > 0 && cp != 0x2028 && cp != 0x2029) {
                i += n;
                continue;
            }
            scry_buf_put(b, s + start, i - start);
            if (n > 0) {
                scry_buf_puts(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
                i += n;
            } else {
                scry_buf_puts(b, "\\ufffd");
                i++;
            }
            start = i;
            continue;
        }
        scry_buf_put(b, s + start, i - start);
        switch (c) {
        case '"': scry_buf_puts(b, "\\\""); break;
        case '\\': scry_buf_puts(b, "\\\\"); break;
        case '\n': scry_buf_puts(b, "\\n"); break;
        case '\r': scry_buf_puts(b, "\\r"); break;
        case '\t': scry_buf_puts(b, "\\t"); break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xf] };
            scry_buf_put(b, u, sizeof u);
        }
        }
        i++;
        start = i;
    }
    scry_buf_put(b, s + start, len - start);
    scry_buf_putc(b, '"');
}

void scry_json_labels(struct scry_json *j, const struct scry_labels *ls)
{
    scry_json_obj_begin(j);
    for (size_t i = 0; i < ls->n; i++) {
        scry_json_key(j, ls->v[i].name);
        scry_json_str(j, ls->v[i].value);
    }
    scry_json_obj_end(j);
}
