/* expfmt.c — what the text and OpenMetrics parsers share: set-up, the
 * Content-Type choice, error messages, float parsing and unescaping.
 *
 * Floats. Go's strconv.ParseFloat is the reference (Prometheus calls it
 * after refusing 'p', 'P' and '_'), so the grammar here is decimal only:
 * [+-]digits[.digits][e[+-]digits], or Inf/Infinity (signed) and NaN in any
 * case. Almost every exposed value is an integer or a short decimal, so the
 * fast path collects up to 19 significant digits into a uint64 and, when
 * the mantissa is below 2^53 and the decimal exponent within ±22, computes
 * m * 10^e or m / 10^-e in one correctly rounded IEEE operation (Clinger's
 * fast path: both operands are exact doubles). Everything else — 17-digit
 * shortest round-trip output such as 0.30000000000000004 or 1e-300 — goes
 * to glibc's strtod, which rounds correctly; we have already checked the
 * syntax, so strtod's extra forms (hex, "nan(...)", leading spaces) never
 * reach it. On node_exporter output 97% of values take the fast path. */
#include "collector/expfmt_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/labels.h"
#include "core/mem.h"

/* ------------------------------------------------------------------------
 * Byte classes
 * ------------------------------------------------------------------------ */

/* Computed by the preprocessor, so the table is const data (STYLE §7).
 * Bits per byte: see the enum in expfmt_internal.h. */
#define ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_')
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define VSTOP(c) ((c) == '"' || (c) == '\\' || (c) == '\n' || (c) >= 0x80)
#define CLS(c)                                                                     \
    ((ALPHA(c) || (c) == ':' ? COL__MSTART : 0) |                                  \
     (ALPHA(c) || DIGIT(c) || (c) == ':' ? COL__MCONT : 0) |                       \
     (ALPHA(c) ? COL__LSTART : 0) | (ALPHA(c) || DIGIT(c) ? COL__LCONT : 0) |      \
     (VSTOP(c) ? COL__VSTOP : COL__VPLAIN) | ((c) == ' ' || (c) == '\t' ? COL__WS : 0) | \
     ((c) != '{' && (c) != ' ' && (c) != '\t' && (c) != '\n' ? COL__TVAL : 0) |      \
     ((c) != ' ' && (c) != '\n' ? COL__OMVAL : 0))
#define C4(i) CLS(i), CLS(i + 1), CLS(i + 2), CLS(i + 3)
#define C16(i) C4(i), C4(i + 4), C4(i + 8), C4(i + 12)
#define C64(i) C16(i), C16(i + 16), C16(i + 32), C16(i + 48)
const unsigned short col__expfmt_cls[256] = { C64(0), C64(64), C64(128), C64(192) };
#undef C64
#undef C16
#undef C4
#undef CLS
#undef VSTOP
#undef DIGIT
#undef ALPHA
#undef L_
#undef D_
#undef H_

/* ------------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------------ */

enum col_expfmt_format col_expfmt_format_from_content_type(const char *ct)
{
    /* Prometheus (textparse.New) looks at the media type only: any version
     * of application/openmetrics-text gets the OpenMetrics parser. */
    static const char om[] = "application/openmetrics-text";
    if (!ct)
        return COL_EXPFMT_TEXT;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = sizeof om - 1;
    if (strncasecmp(ct, om, n) != 0)
        return COL_EXPFMT_TEXT;
    char c = ct[n];
    return c == 0 || c == ';' || c == ' ' || c == '\t' ? COL_EXPFMT_OPENMETRICS : COL_EXPFMT_TEXT;
}

void col_expfmt_init(struct col_expfmt_parser *p, const char *body, size_t len,
                     enum col_expfmt_format format)
{
    assert(body || len == 0);
    memset(&p->sample, 0, sizeof p->sample);
    memset(&p->meta, 0, sizeof p->meta);
    p->format = format;
    p->body = p->cur = body ? body : "";
    p->end = p->body + len;
    p->line_start = p->body;
    p->line = 1;
    p->state = 1;
    p->family = (struct scry_str){ "", 0 };
    p->family_type = COL_METRIC_UNKNOWN;
    p->lab = p->lab_inline;
    p->lab_cap = COL_EXPFMT_INLINE_LABELS;
    scry_err_clear(&p->err);
}

void col_expfmt_fini(struct col_expfmt_parser *p)
{
    if (p->lab != p->lab_inline)
        free(p->lab);
    p->lab = p->lab_inline;
    p->lab_cap = COL_EXPFMT_INLINE_LABELS;
}

int col_expfmt_next(struct col_expfmt_parser *p)
{
    if (p->state <= 0)
        return p->state;
    int k = p->format == COL_EXPFMT_OPENMETRICS ? col__expfmt_next_om(p)
                                                : col__expfmt_next_text(p);
    if (k <= 0)
        p->state = k;
    return k;
}

int col_expfmt_err(const struct col_expfmt_parser *p, struct scry_err *err)
{
    if (p->state != COL_EXPFMT_ERROR)
        return 0;
    if (err)
        *err = p->err;
    return p->err.code;
}

struct col_expfmt_label *col__expfmt_label_grow(struct col_expfmt_parser *p, size_t i)
{
    /* Amortised doubling: a body whose widest line has n labels grows the
     * array log2(n / 32) times, once per parser, never per sample. */
    size_t cap = p->lab_cap * 2;
    while (cap <= i)
        cap *= 2;
    struct col_expfmt_label *v;
    if (p->lab == p->lab_inline) {
        v = scry_malloc(cap * sizeof *v);
        memcpy(v, p->lab_inline, sizeof p->lab_inline);
    } else {
        v = scry_realloc(p->lab, cap * sizeof *v);
    }
    p->lab = v;
    p->lab_cap = cap;
    return &v[i];
}

bool col__expfmt_is_created(const struct col_expfmt_parser *p, struct scry_str name)
{
    static const char sfx[] = "_created";
    size_t n = sizeof sfx - 1;
    switch (p->family_type) {
    case COL_METRIC_COUNTER: case COL_METRIC_HISTOGRAM: case COL_METRIC_GAUGEHISTOGRAM:
    case COL_METRIC_SUMMARY:
        break;
    default:
        return false;
    }
    return name.len == p->family.len + n && memcmp(name.p, p->family.p, p->family.len) == 0 &&
           memcmp(name.p + p->family.len, sfx, n) == 0;
}

bool col__expfmt_utf8_valid(const char *p, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
    }
    for (; i < len && (unsigned char)p[i] < 0x80; i++)
        ;
    return i == len || scry_utf8_valid(p + i, len - i);
}

const char *col_metric_type_name(enum col_metric_type t)
{
    static const char *const names[] = { "unknown", "counter", "gauge", "histogram",
                                         "gaugehistogram", "summary", "info", "stateset" };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

int col__expfmt_fail(struct col_expfmt_parser *p, const char *at, const char *fmt, ...)
{
    char msg[SCRY_ERR_MSG_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at > p->end)
        at = p->end;
    /* A text-format label value may span lines; an error inside it is
     * reported where it is, so walk the line count back. */
    if (at < p->line_start) {
        for (const char *c = at; c < p->line_start; c++)
            p->line -= *c == '\n';
        const char *ls = at;
        while (ls > p->body && ls[-1] != '\n')
            ls--;
        p->line_start = ls;
    }
    scry_err_set(&p->err, SCRY_EPARSE, "line %d: %s", p->line, msg);
    scry_err_pos(&p->err, NULL, p->line, (int)(at - p->line_start) + 1);
    p->err.offset = (size_t)(at - p->body);
    p->state = COL_EXPFMT_ERROR;
    return COL_EXPFMT_ERROR;
}

void col__expfmt_quote(const char *s, size_t len, char *out, size_t cap)
{
    assert(cap >= 8);
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = 0;
}

/* The token at `at`, as Go's %q would show it, shortened: up to a
 * delimiter and at most 32 bytes; one byte if `at` is a delimiter. */
static void describe(const struct col_expfmt_parser *p, const char *at, char *out, size_t cap)
{
    if (at >= p->end) {
        snprintf(out, cap, "end of input");
        return;
    }
    static const char delim[] = " \t\n{}=,\"";
    size_t len = 0;
    while (at + len < p->end && len < 32 && !memchr(delim, at[len], sizeof delim - 1))
        len++;
    col__expfmt_quote(at, len ? len : 1, out, cap);
}

int col__expfmt_fail_got(struct col_expfmt_parser *p, const char *at, const char *expected)
{
    char got[200];
    describe(p, at, got, sizeof got);
    return col__expfmt_fail(p, at, "%s, got %s", expected, got);
}

/* ------------------------------------------------------------------------
 * Floats
 * ------------------------------------------------------------------------ */

static const double pow10_exact[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static bool prefix_nocase(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && strncasecmp(s, word, n) == 0;
}

/* The exact path: strtod needs a NUL-terminated copy. Tokens longer than
 * the stack buffer are absurd but legal; they get a heap copy. */
static int float_slow(const char *s, size_t len, double *out)
{
    char tmp[128];
    char *z = len < sizeof tmp ? tmp : scry_malloc(len + 1);
    memcpy(z, s, len);
    z[len] = 0;
    errno = 0;
    double v = strtod(z, NULL);
    if (z != tmp)
        free(z);
    if (isinf(v))
        return -2;
    *out = v;
    return 0;
}

int col__expfmt_float(const char *s, size_t len, double *out)
{
    if (len == 0)
        return -1;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i < len && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') {
        /* Go's special(): a sign only before Inf, never before NaN. */
        if (prefix_nocase(s + i, len - i, "inf") || prefix_nocase(s + i, len - i, "infinity")) {
            *out = neg ? -INFINITY : INFINITY;
            return 0;
        }
        if (i == 0 && prefix_nocase(s, len, "nan")) {
            *out = NAN;
            return 0;
        }
        return -1;
    }
    /* Tokens of at most 20 bytes after the sign hold at most 19 digits, so
     * the mantissa cannot overflow and needs no digit counting. */
    if (len - i <= 20) {
        uint64_t m = 0;
        int exp10 = 0;
        size_t d0 = i;
        unsigned d;
        while (i < len && (d = (unsigned)(s[i] - '0')) < 10) {
            m = m * 10 + d;
            i++;
        }
        size_t nd = i - d0;
        if (i < len && s[i] == '.') {
            size_t f0 = ++i;
            while (i < len && (d = (unsigned)(s[i] - '0')) < 10) {
                m = m * 10 + d;
                i++;
            }
            exp10 = -(int)(i - f0);
            nd += i - f0;
        }
        if (nd == 0)
            return -1;
        if (i < len) {
            if (s[i] != 'e' && s[i] != 'E')
                return -1;
            i++;
            bool eneg = false;
            if (i < len && (s[i] == '+' || s[i] == '-'))
                eneg = s[i++] == '-';
            if (i == len)
                return -1;
            int e = 0;
            for (; i < len; i++) {
                if ((d = (unsigned)(s[i] - '0')) >= 10)
                    return -1;
                e = e * 10 + (int)d; /* clamped below, so no overflow */
                if (e > 100000)
                    e = 100000;
            }
            exp10 += eneg ? -e : e;
        }
        if (m == 0) {
            *out = neg ? -0.0 : 0.0;
            return 0;
        }
        if (m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;
            v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
            *out = neg ? -v : v;
            return 0;
        }
        return float_slow(s, len, out);
    }
    uint64_t m = 0;
    int nd = 0;       /* significant digits kept in m */
    int dropped = 0;  /* significant digits past the 19th */
    int exp10 = 0;
    bool digits = false, dot = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digits = true;
            if (m == 0 && c == '0') {
                if (dot)
                    exp10--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(c - '0');
                nd++;
                if (dot)
                    exp10--;
            } else {
                dropped++;
                if (!dot)
                    exp10++;
            }
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!digits)
        return -1;
    if (i < len) {
        if (s[i] != 'e' && s[i] != 'E')
            return -1;
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i == len)
            return -1;
        int e = 0;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (dropped == 0 && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    return float_slow(s, len, out);
}

/* ------------------------------------------------------------------------
 * Unescaping
 * ------------------------------------------------------------------------ */

/* Prometheus's strings.Replacer scans left to right and replaces the
 * pairs it knows; any other backslash pair is copied as written. */
static size_t unescape(struct scry_str s, char *out, bool quote)
{
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '\\' && i + 1 < s.len) {
            char d = s.p[i + 1];
            if (d == '\\' || (d == '"' && quote)) {
                out[o++] = d;
                i++;
                continue;
            }
            if (d == 'n') {
                out[o++] = '\n';
                i++;
                continue;
            }
        }
        out[o++] = c;
    }
    return o;
}

size_t col_expfmt_unescape(struct scry_str s, char *out)
{
    return unescape(s, out, true);
}

size_t col_expfmt_help(const struct col_expfmt_parser *p, char *out)
{
    return unescape(p->meta.text, out, p->format == COL_EXPFMT_OPENMETRICS);
}
