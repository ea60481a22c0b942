/* buf.c — growable buffer. Growth doubles up to 1 MiB, then adds 1 MiB at a
 * time, so a large response does not reserve twice its size (redis sds,
 * SDS_MAX_PREALLOC). */
#include "core/buf.h"
#include "core/mem.h"

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

/* Shortest "%.*e" that reads back as v: the digit count and exponent Go's
 * strconv picks with precision -1. Returns the number of significant digits. */
static int shortest_digits(double v, int *exp10)
{
    char tmp[40];
    int prec;
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    *exp10 = atoi(strchr(tmp, 'e') + 1);
    return prec;
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

static void put_fixed_or_exp(struct scry_buf *b, double v, bool exp_form, int digits, int e)
{
    if (exp_form)
        scry_buf_printf(b, "%.*e", digits - 1, v);
    else
        scry_buf_printf(b, "%.*f", digits - 1 - e > 0 ? digits - 1 - e : 0, v);
}

void scry_buf_put_double(struct scry_buf *b, double v)
{
    if (put_special(b, v))
        return;
    if (v == 0) {
        scry_buf_puts(b, signbit(v) ? "-0" : "0");
        return;
    }
    /* Go's FormatFloat(v, 'g', -1, 64): exponent form when the decimal
     * exponent is < -4 or >= 6 (Go's rule for the shortest precision). */
    int e, digits = shortest_digits(v, &e);
    put_fixed_or_exp(b, v, e < -4 || e >= 6, digits, e);
}

void scry_buf_put_double_api(struct scry_buf *b, double v)
{
    if (put_special(b, v))
        return;
    if (v == 0) {
        scry_buf_puts(b, signbit(v) ? "-0" : "0");
        return;
    }
    /* Prometheus's API (jsoniter): 'f' -1, but 'e' -1 when |v| < 1e-6 or
     * |v| >= 1e21. */
    int e, digits = shortest_digits(v, &e);
    double a = fabs(v);
    put_fixed_or_exp(b, v, a < 1e-6 || a >= 1e21, digits, e);
}

char *scry_buf_take(struct scry_buf *b)
{
    char *p = b->p ? b->p : scry_strdup("");
    memset(b, 0, sizeof *b);
    return p;
}
