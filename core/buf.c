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

/* 5^k for 0 <= k <= 27. */
static const uint64_t pow5_tab[28] = {
    1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull, 1953125ull,
    9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull, 30517578125ull,
    152587890625ull, 762939453125ull, 3814697265625ull, 19073486328125ull, 95367431640625ull,
    476837158203125ull, 2384185791015625ull, 11920928955078125ull, 59604644775390625ull,
    298023223876953125ull, 1490116119384765625ull, 7450580596923828125ull,
};

/* 10^k for 0 <= k <= 27. The callers' ranges guarantee k; saying so
 * keeps GCC's -Warray-bounds quiet when ASan inlines this at -O2. */
static unsigned __int128 pow10_u128(int k)
{
    if ((unsigned)k > 27)
        __builtin_unreachable();
    return (unsigned __int128)pow5_tab[k] << k;
}

/* Sign of m*2^e - 10^k, exactly (|v| in [1e-7, 1e22], k in [-7, 22]). */
static int cmp_pow10(uint64_t m, int e, int k)
{
    unsigned __int128 x, y;
    if (k >= 0) {
        x = (unsigned __int128)m << (e > 0 ? e : 0);
        y = pow10_u128(k) << (e < 0 ? -e : 0);
    } else {
        /* m*2^e >= 10^-K  <=>  m*5^K*2^(e+K) >= 1 */
        int sh = e - k;
        x = (unsigned __int128)m * pow5_tab[-k] << (sh > 0 ? sh : 0);
        y = (unsigned __int128)1 << (sh < 0 ? -sh : 0);
    }
    return x < y ? -1 : x > y;
}

/* d = v/10^q rounded half to even, and whether d*10^q reads back as v
 * (lies within half an ulp of v = m*2^e; inclusive when m is even, as
 * strtod rounds ties to even). Everything is exact 128-bit integer
 * arithmetic; the ranges of fast_digits keep it from overflowing. */
static bool round_check(uint64_t m, int e, int q, uint64_t *d_out)
{
    bool even = (m & 1) == 0;
    unsigned __int128 d, diff, tol2, two_diff;
    if (q >= 0) {
        /* v >= 1e14 here, so e >= -6 */
        unsigned __int128 v, t = pow10_u128(q);
        if (e >= 0) {
            v = (unsigned __int128)m << e;
        } else {
            v = m;
            t <<= -e;
        }
        d = v / t;
        unsigned __int128 r = v - d * t;
        if (2 * r > t || (2 * r == t && (d & 1)))
            d++;
        diff = d * t > v ? d * t - v : v - d * t;
        two_diff = 2 * diff;
        tol2 = e >= 0 ? (unsigned __int128)1 << e : 1; /* 2 * half ulp, in units of v */
    } else {
        int k = -q; /* <= 22 */
        unsigned __int128 n = (unsigned __int128)m * pow5_tab[k];
        int sh = e + k;
        if (sh >= 0) {
            *d_out = (uint64_t)(n << sh); /* exact: < 10^17 */
            return true;
        }
        int s = -sh; /* <= 95 */
        d = n >> s;
        unsigned __int128 r = n - (d << s), half = (unsigned __int128)1 << (s - 1);
        if (r > half || (r == half && (d & 1)))
            d++;
        unsigned __int128 ds = d << s;
        diff = ds > n ? ds - n : n - ds;
        two_diff = 2 * diff;
        tol2 = pow5_tab[k]; /* half an ulp times 10^k times 2^s, doubled */
    }
    *d_out = (uint64_t)d;
    return even ? two_diff <= tol2 : two_diff < tol2;
}

/* The shortest round-trip digits of a finite non-zero v in 1e-6 <= |v| <
 * 1e21 (not a power of two, whose rounding interval is lopsided), without
 * printf: the same digits as the "%.*e" loop of shortest_e. The correctly
 * rounded 15-digit decimal is, stripped of its trailing zeros, the
 * shortest one whenever one of 15 digits or fewer reads back (half an ulp
 * is below half a unit of the 15th digit); else 16, else 17 digits.
 * Returns the number of digits (0: not handled) and the decimal exponent
 * of the first one in *exp10. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull,
};

/* Exactly eight digits of x < 10^8 into out, in 32-bit arithmetic (the
 * divisions by constants become multiplications). */
static inline void put8(char *out, uint32_t x)
{
    uint32_t hi = x / 10000, lo = x % 10000;
    memcpy(out, digit_pairs + 2 * (hi / 100), 2);
    memcpy(out + 2, digit_pairs + 2 * (hi % 100), 2);
    memcpy(out + 4, digit_pairs + 2 * (lo / 100), 2);
    memcpy(out + 6, digit_pairs + 2 * (lo % 100), 2);
}

/* The digits of x < 10^8 into out, n of them (the caller knows n). */
static inline void put_upto8(char *out, uint32_t x, size_t n)
{
    char *p = out + n;
    while (x >= 100) {
        uint32_t r = x % 100;
        x /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (x >= 10)
        memcpy(p - 2, digit_pairs + 2 * x, 2);
    else
        p[-1] = (char)('0' + x);
}

/* The decimal digits of d into out; returns how many. The length first
 * (from the bit length), then blocks of eight digits from the end in
 * 32-bit arithmetic: a sample value's 16 or 17 digits are two blocks and
 * a short head, far fewer steps than one 64-bit division per pair. */
size_t scry_fmt_u64(char *out, uint64_t d)
{
    int t = ((64 - __builtin_clzll(d | 1)) * 1233) >> 12;
    size_t n = (size_t)(t - ((d | 1) < pow10_u64[t]) + 1); /* d = 0 has one digit */
    if (n <= 8) {
        put_upto8(out, (uint32_t)d, n);
        return n;
    }
    char *p = out + n - 8;
    put8(p, (uint32_t)(d % 100000000));
    d /= 100000000;
    if (n > 16) {
        p -= 8;
        put8(p, (uint32_t)(d % 100000000));
        d /= 100000000;
    }
    put_upto8(out, (uint32_t)d, (size_t)(p - out));
    return n;
}

/* d * 10^q with its trailing zeros stripped, as digits and the exponent of
 * the first one. */
static int put_digits(uint64_t d, int q, char *digits, int *exp10)
{
    while (d % 10000 == 0) {
        d /= 10000;
        q += 4;
    }
    while (d % 10 == 0) {
        d /= 10;
        q++;
    }
    int n = (int)scry_fmt_u64(digits, d);
    digits[n] = 0;
    *exp10 = q + n - 1;
    return n;
}

/* put_digits for a d of exactly nd digits (16 or 17: sixteen_seventeen's
 * candidates, which rarely end in zeros), written as blocks of eight at
 * fixed places and stripped of trailing zeros by looking at the text.
 * Falls back to put_digits when rounding carried d to one more digit. */
static int put_digits_n(uint64_t d, int nd, int q, char *digits, int *exp10)
{
    if (d >= pow10_u64[nd] || d < pow10_u64[nd - 1])
        return put_digits(d, q, digits, exp10);
    uint64_t hi = d / 100000000;
    put8(digits + nd - 8, (uint32_t)(d % 100000000));
    if (nd == 16) {
        put8(digits, (uint32_t)hi);
    } else {
        digits[0] = (char)('0' + hi / 100000000);
        put8(digits + 1, (uint32_t)(hi % 100000000));
    }
    int n = nd;
    while (digits[n - 1] == '0')
        n--;
    digits[n] = 0;
    *exp10 = q + nd - 1;
    return n;
}

/* 10^k as doubles, exact for k <= 22; [k + 8] for -8 <= k <= 22. */
static const double pow10_dbl[31] = {
    1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0,  1e1,  1e2,
    1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
    1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The 16- and 17-digit candidates of v = m*2^e (no decimal of 15 digits
 * or fewer reads back; e10 exact) from one product: with k = 16 - e10,
 * v*10^k = n/2^s exactly (n = m*5^k, s = -(e+k) > 0), its integer part q
 * and fraction r/2^s. The 16-digit decimal is q/10 rounded by the last
 * digit and r; a candidate reads back when it lies within half an ulp,
 * which is 5^k/2 units of 2^-s at this scale (inclusive when m is even:
 * strtod rounds ties to even). The same arithmetic as round_check for
 * p = 16 and 17, one multiplication and no 128-bit division instead of
 * two. Returns 0 when s is out of this range (round_check then). */
static int sixteen_seventeen(uint64_t m, int e, int e10, char *digits, int *exp10)
{
    int k = 16 - e10;
    if (k < 0 || k > 27)
        return 0;
    int s = -(e + k);
    if (s <= 0 || s > 100)
        return 0;
    unsigned __int128 n = (unsigned __int128)m * pow5_tab[k];
    unsigned __int128 one = (unsigned __int128)1 << s;
    uint64_t q = (uint64_t)(n >> s); /* < 10^17: e10 is exact */
    unsigned __int128 r = n - ((unsigned __int128)q << s);
    unsigned __int128 tol = pow5_tab[k];
    bool even = (m & 1) == 0;
    /* 16 digits: v*10^(k-1) = q16 + fr/(10*2^s) */
    uint64_t q16 = q / 10;
    unsigned __int128 fr = ((unsigned __int128)(q % 10) << s) + r, half = 5 * one;
    bool up = fr > half || (fr == half && (q16 & 1));
    unsigned __int128 t = up ? 10 * one : 0;
    unsigned __int128 diff = t > fr ? t - fr : fr - t; /* |d16*10*2^s - n| */
    if (even ? 2 * diff <= tol : 2 * diff < tol)
        return put_digits_n(q16 + up, 16, e10 - 15, digits, exp10);
    /* 17 digits */
    up = r > one / 2 || (r == one / 2 && (q & 1));
    t = up ? one : 0;
    diff = t > r ? t - r : r - t;
    if (even ? 2 * diff <= tol : 2 * diff < tol)
        return put_digits_n(q + up, 17, e10 - 16, digits, exp10);
    return 0;
}

static int fast_digits(double v, char *digits, int *exp10)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t frac = bits & ((1ull << 52) - 1);
    int bexp = (int)((bits >> 52) & 0x7ff);
    double a = fabs(v);
    if (bexp == 0 || bexp == 0x7ff || !(a >= 1e-8 && a < 1e21))
        return 0;
    /* floor(log10(a)), from the binary exponent (one low at most), then
     * fixed with the table (approximately: what follows does not rely on
     * it being exact) */
    int e10 = ((bexp - 1023) * 78913) >> 18;
    if (e10 + 9 < 31 && a >= pow10_dbl[e10 + 9])
        e10++;
    int p0 = 15;
    if (e10 >= -8 && e10 <= 14) {
        /* Values of at most 15 significant digits (integers, fixed
         * decimals), in floating point: d = v * 10^k with k = 14 - e10 is
         * within 0.25 of an integer when such a decimal reads back as v,
         * and the division d / 10^k (both exact, so correctly rounded) is
         * exactly what strtod would make of it. A decimal of <= 15 digits
         * that reads back is the only one, hence the shortest. */
        int k = 14 - e10;
        double x = a * pow10_dbl[k + 8];
        if (x < 1e15 + 0.5) {
            /* nearbyint without a call: 0 <= x < 2^52, so x + 2^52 has
             * ulp 1 and the addition rounds x to an integer, half to even
             * (the default rounding mode, as nearbyint's) */
            double r = (x + 0x1p52) - 0x1p52;
            if (r >= 1 && r / pow10_dbl[k + 8] == a)
                return put_digits((uint64_t)r, -k, digits, exp10);
            if (x >= 1e14 + 1 && x < 1e15 - 1)
                p0 = 16; /* e10 is right: no decimal of 15 digits reads back */
        }
    }
    if (frac == 0 || a < 1e-6)
        return 0; /* lopsided rounding interval of a power of two; tiny values */
    uint64_t m = frac | (1ull << 52);
    int e = bexp - 1075;
    if (p0 == 15) { /* e10 not known to be exact yet */
        if (cmp_pow10(m, e, e10) < 0)
            e10--;
        else if (cmp_pow10(m, e, e10 + 1) >= 0)
            e10++;
    }
    if (p0 == 15) {
        uint64_t d;
        if (round_check(m, e, e10 - 14, &d))
            return put_digits(d, e10 - 14, digits, exp10);
    }
    int n17 = sixteen_seventeen(m, e, e10, digits, exp10);
    if (n17)
        return n17;
    for (int p = 16; p <= 17; p++) {
        uint64_t d;
        if (round_check(m, e, e10 - (p - 1), &d))
            return put_digits(d, e10 - (p - 1), digits, exp10);
    }
    return 0;
}

/* The significant digits of a finite v without sign or dot, NUL-ended,
 * their number in *nd; returns the decimal exponent. */
static int shortest_digits(double v, char *digits, size_t cap, bool *neg, int *nd)
{
    int e10;
    *neg = signbit(v);
    if (v == 0) {
        digits[0] = '0';
        digits[1] = 0;
        *nd = 1;
        return 0;
    }
    if (cap >= 18 && (*nd = fast_digits(v, digits, &e10)) > 0)
        return e10;
    char tmp[40];
    shortest_e(v, tmp, sizeof tmp);
    const char *p = tmp;
    if (*p == '-')
        p++;
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && n + 1 < cap)
            digits[n++] = *p;
    digits[n] = 0;
    *nd = (int)n;
    assert(*p == 'e');
    return atoi(p + 1);
}

/* NaN, +Inf, -Inf into out; 0 when v is finite. */
static size_t fmt_special(char *out, double v)
{
    if (isfinite(v))
        return 0;
    const char *z = isnan(v) ? "NaN" : isinf(v) ? (v > 0 ? "+Inf" : "-Inf") : NULL;
    if (!z)
        return 0;
    size_t n = strlen(z);
    memcpy(out, z, n);
    return n;
}

/* Go's AppendFloat(v, 'f', -1, 64) from the shortest digits d (n of them,
 * the first at decimal exponent e): padded with zeros, never the libc's
 * exact binary expansion of large values. d has DIGITS_CAP bytes. The text
 * is built in tmp with copies of fixed size (inlined moves, no calls or
 * per-byte loops: a range query formats ~500 k values) and copied out
 * whole; out has SCRY_FMT_DOUBLE_MAX bytes, the text is at most 25. */
#define DIGITS_CAP 40
static size_t fmt_fixed(char *out, bool neg, const char *d, int n, int e)
{
    char tmp[64];
    char *o = tmp;
    *o = '-';
    o += neg;
    if (e < 0) {
        /* -e - 1 <= 7 zeros after "0." (|v| >= 1e-6 here, 1e-4 for 'g') */
        memcpy(o, "0.000000000", 10);
        o += 2 + (-e - 1);
        memcpy(o, d, 17);
        o += n;
    } else if (e >= n - 1) {
        /* an integer: e <= 20 */
        memcpy(o, d, 17);
        o += n;
        memcpy(o, "000000000000000000000000", 24);
        o += e - (n - 1);
    } else {
        memcpy(o, d, 17);
        o[e + 1] = '.';
        memcpy(o + e + 2, d + e + 1, 17); /* e <= 15: within d and tmp */
        o += n + 1;
    }
    memcpy(out, tmp, SCRY_FMT_DOUBLE_MAX);
    return (size_t)(o - tmp);
}

/* Go's AppendFloat(v, 'e', -1, 64): "1e-07", "1.5e+21", at least two
 * exponent digits (as C's %e). */
static size_t fmt_exp(char *out, bool neg, const char *d, int n, int e)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    *o++ = d[0];
    if (n > 1) {
        *o++ = '.';
        memcpy(o, d + 1, (size_t)n - 1);
        o += n - 1;
    }
    *o++ = 'e';
    *o++ = e < 0 ? '-' : '+';
    unsigned u = (unsigned)(e < 0 ? -e : e);
    if (u >= 100)
        *o++ = (char)('0' + u / 100);
    *o++ = (char)('0' + u / 10 % 10);
    *o++ = (char)('0' + u % 10);
    return (size_t)(o - out);
}

size_t scry_fmt_double(char *out, double v)
{
    size_t n = fmt_special(out, v);
    if (n)
        return n;
    /* Go's FormatFloat(v, 'g', -1, 64): exponent form when the decimal
     * exponent is < -4 or >= 6 (Go's eprec for the shortest precision). */
    char d[DIGITS_CAP] = { 0 };
    bool neg;
    int nd;
    int e = shortest_digits(v, d, sizeof d, &neg, &nd);
    if (e < -4 || e >= 6)
        return fmt_exp(out, neg, d, nd, e);
    return fmt_fixed(out, neg, d, nd, e);
}

size_t scry_fmt_double_api(char *out, double v)
{
    size_t n = fmt_special(out, v);
    if (n)
        return n;
    /* Prometheus's API (jsoniter MarshalFloat): Go's 'f' -1, but 'e' -1 when
     * |v| < 1e-6 or |v| >= 1e21. */
    char d[DIGITS_CAP] = { 0 };
    bool neg;
    int nd;
    int e = shortest_digits(v, d, sizeof d, &neg, &nd);
    double a = fabs(v);
    if (a != 0 && (a < 1e-6 || a >= 1e21))
        return fmt_exp(out, neg, d, nd, e);
    return fmt_fixed(out, neg, d, nd, e);
}

void scry_buf_put_double(struct scry_buf *b, double v)
{
    char tmp[SCRY_FMT_DOUBLE_MAX];
    scry_buf_put(b, tmp, scry_fmt_double(tmp, v));
}

void scry_buf_put_double_api(struct scry_buf *b, double v)
{
    char tmp[SCRY_FMT_DOUBLE_MAX];
    scry_buf_put(b, tmp, scry_fmt_double_api(tmp, v));
}

char *scry_buf_take(struct scry_buf *b)
{
    char *p = b->p ? b->p : scry_strdup("");
    memset(b, 0, sizeof *b);
    return p;
}
