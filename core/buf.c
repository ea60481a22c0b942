/* buf.c — growable buffer. Growth doubles up to 1 MiB, then adds 1 MiB at a
 * time, so a large response does not reserve twice its size (redis sds,
 * SDS_MAX_PREALLOC). */
#include "core/buf.h"
#include "core/mem.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MAX_PREALLOC (1u << 20)

struct scry_str scry_str_c(const char *z)
{
    return (struct scry_str){ z ? z : "", z ? strlen(z) : 0 };
}

bool scry_str_eq(struct scry_str a, struct scry_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool scry_str_eqz(struct scry_str a, const char *z) { return scry_str_eq(a, scry_str_c(z)); }

int scry_str_cmp(struct scry_str a, struct scry_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

void scry_buf_init(struct scry_buf *b) { memset(b, 0, sizeof *b); }

void scry_buf_fini(struct scry_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void scry_buf_reset(struct scry_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

void scry_buf_reserve(struct scry_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap < BUF_MAX_PREALLOC ? cap * 2 : cap + BUF_MAX_PREALLOC;
    b->p = scry_realloc(b->p, cap);
    b->cap = cap;
}

void scry_buf_put(struct scry_buf *b, const void *p, size_t len)
{
    scry_buf_reserve(b, len);
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = 0;
}

void scry_buf_putc(struct scry_buf *b, char c) { scry_buf_put(b, &c, 1); }
void scry_buf_puts(struct scry_buf *b, const char *z) { scry_buf_put(b, z, strlen(z)); }

void scry_buf_vprintf(struct scry_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    scry_buf_reserve(b, 64);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        scry_buf_reserve(b, (size_t)n);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
}

void scry_buf_printf(struct scry_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    scry_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* The other n-digit neighbour of v: "%.*e" gives the n-digit decimal
 * nearest to v; when that does not read back as v, the one on the other
 * side of v may (at a power of two the gap below is half the gap above:
 * 2^-24 is "5.960464477539063e-08", not the nearer "…062"). */
static bool other_neighbour(double v, int prec, const char *near, char *out, size_t cap)
{
    const char *p = near;
    bool neg = *p == '-';
    if (neg)
        p++;
    uint64_t m = 0, pow10 = 1;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            m = m * 10 + (uint64_t)(*p - '0');
    if (*p != 'e')
        return false;
    int e = atoi(p + 1);
    for (int i = 0; i < prec; i++)
        pow10 *= 10; /* the smallest mantissa with prec+1 digits */
    bool up = (strtod(near, NULL) < v) != neg; /* away from zero */
    if (up) {
        if (++m == pow10 * 10) {
            m = pow10;
            e++;
        }
    } else {
        if (m-- == pow10) {
            m = pow10 * 10 - 1;
            e--;
        }
    }
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, m);
    snprintf(out, cap, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0], prec ? "." : "", digits + 1,
             e < 0 ? '-' : '+', e < 0 ? -e : e);
    return strtod(out, NULL) == v;
}

/* Shortest "%.*e" text of a finite v that reads back as v: the digits Go's
 * strconv picks with precision -1 (the nearest of that length, or the other
 * neighbour when only that one reads back). Returns the precision used. */
static int shortest_e(double v, char *tmp, size_t cap)
{
    int prec;
    char alt[40];
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, cap, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            return prec;
        if (v != 0 && other_neighbour(v, prec, tmp, alt, sizeof alt)) {
            snprintf(tmp, cap, "%s", alt);
            return prec;
        }
    }
    snprintf(tmp, cap, "%.*e", prec, v);
    return prec;
}

/* The significant digits of a finite v without sign or dot; returns the
 * decimal exponent. */
static int shortest_digits(double v, char *digits, size_t cap, bool *neg)
{
    char tmp[40];
    shortest_e(v, tmp, sizeof tmp);
    const char *p = tmp;
    *neg = *p == '-';
    if (*neg)
        p++;
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && n + 1 < cap)
            digits[n++] = *p;
    digits[n] = 0;
    assert(*p == 'e');
    return atoi(p + 1);
}

static bool put_special(struct scry_buf *b, double v)
{
    if (isnan(v))
        scry_buf_puts(b, "NaN");
    else if (isinf(v))
        scry_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        return false;
    return true;
}

/* Go's AppendFloat(v, 'f', -1, 64) for finite v: shortest digits, padded
 * with zeros, never the libc's exact binary expansion of large values. */
static void put_fixed(struct scry_buf *b, double v)
{
    char d[24];
    bool neg;
    int e = shortest_digits(v, d, sizeof d, &neg);
    int n = (int)strlen(d);
    if (neg)
        scry_buf_putc(b, '-');
    if (e < 0) {
        scry_buf_puts(b, "0.");
        for (int i = 0; i < -e - 1; i++)
            scry_buf_putc(b, '0');
        scry_buf_put(b, d, (size_t)n);
    } else if (e >= n - 1) {
        scry_buf_put(b, d, (size_t)n);
        for (int i = 0; i < e - (n - 1); i++)
            scry_buf_putc(b, '0');
    } else {
        scry_buf_put(b, d, (size_t)e + 1);
        scry_buf_putc(b, '.');
        scry_buf_put(b, d + e + 1, (size_t)(n - e - 1));
    }
}

/* Go's AppendFloat(v, 'e', -1, 64): "1e-07", "1.5e+21". C's %e writes the
 * same two-digit minimum exponent. */
static void put_exp(struct scry_buf *b, double v)
{
    char tmp[40];
    shortest_e(v, tmp, sizeof tmp);
    scry_buf_puts(b, tmp);
}

void scry_buf_put_double(struct scry_buf *b, double v)
{
    if (put_special(b, v))
        return;
    /* Go's FormatFloat(v, 'g', -1, 64): exponent form when the decimal
     * exponent is < -4 or >= 6 (Go's eprec for the shortest precision). */
    char d[24];
    bool neg;
    int e = v == 0 ? 0 : shortest_digits(v, d, sizeof d, &neg);
    if (e < -4 || e >= 6)
        put_exp(b, v);
    else
        put_fixed(b, v);
}

void scry_buf_put_double_api(struct scry_buf *b, double v)
{
    if (put_special(b, v))
        return;
    /* Prometheus's API (jsoniter MarshalFloat): Go's 'f' -1, but 'e' -1 when
     * |v| < 1e-6 or |v| >= 1e21. */
    double a = fabs(v);
    if (a != 0 && (a < 1e-6 || a >= 1e21))
        put_exp(b, v);
    else
        put_fixed(b, v);
}

char *scry_buf_take(struct scry_buf *b)
{
    char *p = b->p ? b->p : scry_strdup("");
    memset(b, 0, sizeof *b);
    return p;
}
