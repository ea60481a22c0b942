/* promql_lit.c — PromQL literals: numbers, durations, strings, and the names
 * of types and operators.
 *
 * Numbers follow Go's strconv as Prometheus calls it (ParseInt with base
 * detection, then ParseFloat), so `010` is 8 and `0x1f` is 31; durations
 * follow model.ParseDuration; strings follow strconv.Unquote. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/promql_internal.h"

const char *pql_type_name(enum pql_type t)
{
    switch (t) {
    case PQL_TYPE_SCALAR: return "scalar";
    case PQL_TYPE_VECTOR: return "instant vector";
    case PQL_TYPE_MATRIX: return "range vector";
    case PQL_TYPE_STRING: return "string";
    case PQL_TYPE_NONE: break;
    }
    return "none";
}

static const char *const op_names[] = {
    [PQL_OP_ADD] = "+", [PQL_OP_SUB] = "-", [PQL_OP_MUL] = "*", [PQL_OP_DIV] = "/",
    [PQL_OP_MOD] = "%", [PQL_OP_POW] = "^", [PQL_OP_ATAN2] = "atan2", [PQL_OP_EQLC] = "==",
    [PQL_OP_NEQ] = "!=", [PQL_OP_GTR] = ">", [PQL_OP_LSS] = "<", [PQL_OP_GTE] = ">=",
    [PQL_OP_LTE] = "<=", [PQL_OP_AND] = "and", [PQL_OP_OR] = "or", [PQL_OP_UNLESS] = "unless",
    [PQL_OP_TRIM_UPPER] = "</", [PQL_OP_TRIM_LOWER] = ">/",
};
const char *pql_op_str(enum pql_op op) { return op_names[op]; }

bool pql_op_is_comparison(enum pql_op op)
{
    return op == PQL_OP_EQLC || op == PQL_OP_NEQ || op == PQL_OP_GTR || op == PQL_OP_LSS ||
           op == PQL_OP_GTE || op == PQL_OP_LTE;
}
bool pql_op_is_set(enum pql_op op) { return op == PQL_OP_AND || op == PQL_OP_OR || op == PQL_OP_UNLESS; }

static const char *const agg_names[] = {
    [PQL_AGG_SUM] = "sum", [PQL_AGG_AVG] = "avg", [PQL_AGG_COUNT] = "count",
    [PQL_AGG_MIN] = "min", [PQL_AGG_MAX] = "max", [PQL_AGG_GROUP] = "group",
    [PQL_AGG_STDDEV] = "stddev", [PQL_AGG_STDVAR] = "stdvar", [PQL_AGG_TOPK] = "topk",
    [PQL_AGG_BOTTOMK] = "bottomk", [PQL_AGG_COUNT_VALUES] = "count_values",
    [PQL_AGG_QUANTILE] = "quantile", [PQL_AGG_LIMITK] = "limitk",
    [PQL_AGG_LIMIT_RATIO] = "limit_ratio",
};
const char *pql_agg_str(enum pql_agg op) { return agg_names[op]; }

bool pql_agg_has_param(enum pql_agg op)
{
    return op == PQL_AGG_TOPK || op == PQL_AGG_BOTTOMK || op == PQL_AGG_COUNT_VALUES ||
           op == PQL_AGG_QUANTILE || op == PQL_AGG_LIMITK || op == PQL_AGG_LIMIT_RATIO;
}

/* ---- numbers ----------------------------------------------------------- */

/* Go allows '_' only between digits (or after a base prefix). */
static bool strip_underscores(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_') {
            bool prev_ok = i > 0 && (isalnum((unsigned char)s[i - 1]));
            bool next_ok = i + 1 < len && isalnum((unsigned char)s[i + 1]);
            if (!prev_ok || !next_ok)
                return false;
            continue;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = s[i];
    }
    out[n] = 0;
    return true;
}

static bool parse_int_base0(const char *z, double *out)
{
    const char *p = z;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && p[1])
        base = 8, p += 1;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++) {
        int d = isdigit((unsigned char)*q) ? *q - '0'
                : isalpha((unsigned char)*q) ? tolower((unsigned char)*q) - 'a' + 10 : 99;
        if (d >= base)
            return false;
    }
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, base);
    if (errno == ERANGE || *end)
        return false;
    *out = (double)v;
    return true;
}

bool pql__parse_number(const char *s, size_t len, double *out, bool *range_err)
{
    char z[512];
    *range_err = false;
    if (len == 0 || !strip_underscores(s, len, z, sizeof(z)))
        return false;
    if (parse_int_base0(z, out))
        return true;
    /* ParseFloat: decimal or hex floats (with a p exponent), Inf, NaN. */
    const char *p = z;
    if (*p == '+' || *p == '-')
        p++;
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 || strcasecmp(p, "nan") == 0) {
        double v = (p[0] == 'n' || p[0] == 'N') ? NAN : INFINITY;
        *out = z[0] == '-' ? -v : v;
        return true;
    }
    bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    if (hex && !strpbrk(p, "pP"))
        return false;
    for (const char *q = p; *q; q++)
        if (!(isxdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' || *q == 'x' ||
              *q == 'X' || *q == 'p' || *q == 'P' || *q == '+' || *q == '-'))
            return false;
    errno = 0;
    char *end;
    double v = strtod(z, &end);
    if (*end || end == z)
        return false;
    if (errno == ERANGE && isinf(v)) { /* Go: "value out of range" */
        *range_err = true;
        return false;
    }
    *out = v;
    return true;
}

void pql__put_float_f(struct scry_buf *out, double v)
{
    if (isnan(v)) {
        scry_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        scry_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The shortest %.*e that reads back exactly gives the digits. */
    char e[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *c = e;
    bool neg = *c == '-';
    if (neg)
        c++;
    for (; *c && *c != 'e'; c++)
        if (isdigit((unsigned char)*c))
            digits[nd++] = *c;
    int exp10 = atoi(strchr(e, 'e') + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        scry_buf_putc(out, '-');
    /* value = 0.d1d2d3… × 10^(exp10+1) */
    int dp = exp10 + 1;
    if (dp <= 0) {
        scry_buf_puts(out, "0.");
        for (int k = 0; k < -dp; k++)
            scry_buf_putc(out, '0');
        scry_buf_put(out, digits, nd);
    } else if ((size_t)dp >= nd) {
        scry_buf_put(out, digits, nd);
        for (size_t k = nd; k < (size_t)dp; k++)
            scry_buf_putc(out, '0');
    } else {
        scry_buf_put(out, digits, (size_t)dp);
        scry_buf_putc(out, '.');
        scry_buf_put(out, digits + dp, nd - (size_t)dp);
    }
}

/* ---- durations ----------------------------------------------------------- */

static const struct {
    const char *unit;
    int64_t ms;
} units[] = {
    { "y", 365LL * 24 * 3600 * 1000 }, { "w", 7LL * 24 * 3600 * 1000 },
    { "d", 24LL * 3600 * 1000 }, { "h", 3600LL * 1000 }, { "m", 60LL * 1000 },
    { "s", 1000 }, { "ms", 1 },
};

/* model.ParseDuration: <digits><unit> groups, units strictly descending,
 * the total within Go's time.Duration (2^63 ns, about 292 years). */
bool pql__parse_duration(const char *s, size_t len, int64_t *out_ms, char *why, size_t why_len)
{
    if (len == 0) {
        snprintf(why, why_len, "empty duration string");
        return false;
    }
    if (len == 1 && s[0] == '0') {
        *out_ms = 0;
        return true;
    }
    size_t i = 0;
    int last = -1;
    uint64_t total_ns = 0;
    while (i < len) {
        if (!isdigit((unsigned char)s[i]))
            goto bad;
        uint64_t v = 0;
        for (; i < len && isdigit((unsigned char)s[i]); i++) {
            if (v > (UINT64_MAX - 9) / 10)
                goto bad;
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
        size_t j = i;
        while (j < len && !isdigit((unsigned char)s[j]))
            j++;
        if (j == i)
            goto bad;
        int u = -1;
        for (int k = 0; k < 7; k++)
            if (strlen(units[k].unit) == j - i && memcmp(units[k].unit, s + i, j - i) == 0)
                u = k;
        if (u < 0) {
            snprintf(why, why_len, "unknown unit \"%.*s\" in duration \"%.*s\"", (int)(j - i),
                     s + i, (int)len, s);
            return false;
        }
        if (u <= last)
            goto bad;
        last = u;
        uint64_t mult_ns = (uint64_t)units[u].ms * 1000000u;
        if (v > (1ULL << 63) / mult_ns)
            goto range;
        total_ns += v * mult_ns;
        if (total_ns > (uint64_t)INT64_MAX)
            goto range;
        i = j;
    }
    *out_ms = (int64_t)(total_ns / 1000000u);
    return true;
range:
    snprintf(why, why_len, "duration out of range");
    return false;
bad:
    snprintf(why, why_len, "not a valid duration string: \"%.*s\"", (int)len, s);
    return false;
}

/* ---- strings ----------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pql_unquote(struct scry_arena *a, const char *s, size_t len, const char **out,
                size_t *out_len, struct scry_err *err)
{
    if (len < 2 || s[0] != s[len - 1] || (s[0] != '"' && s[0] != '\'' && s[0] != '`'))
        return scry_err_set(err, SCRY_EPARSE, "invalid syntax");
    char q = s[0];
    struct scry_buf b = { 0 };
    scry_buf_reserve(&b, len);
    for (size_t i = 1; i + 1 < len;) {
        char c = s[i];
        if (q == '`') {
            if (c == '`')
                goto bad;
            if (c != '\r') /* Go drops carriage returns from raw strings */
                scry_buf_putc(&b, c);
            i++;
            continue;
        }
        if (c == q || c == '\n')
            goto bad;
        if (c != '\\') {
            scry_buf_putc(&b, c);
            i++;
            continue;
        }
        if (i + 2 >= len)
            goto bad;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'a': scry_buf_putc(&b, '\a'); break;
        case 'b': scry_buf_putc(&b, '\b'); break;
        case 'f': scry_buf_putc(&b, '\f'); break;
        case 'n': scry_buf_putc(&b, '\n'); break;
        case 'r': scry_buf_putc(&b, '\r'); break;
        case 't': scry_buf_putc(&b, '\t'); break;
        case 'v': scry_buf_putc(&b, '\v'); break;
        case '\\': scry_buf_putc(&b, '\\'); break;
        case '\'': case '"':
            if (e != q)
                goto bad;
            scry_buf_putc(&b, e);
            break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
            if (i + 2 >= len + 0 || i + 1 >= len - 1)
                goto bad;
            int v = e - '0';
            for (int k = 0; k < 2; k++) {
                char d = s[i + (size_t)k];
                if (d < '0' || d > '7')
                    goto bad;
                v = v * 8 + (d - '0');
            }
            if (v > 255)
                goto bad;
            scry_buf_putc(&b, (char)v);
            i += 2;
            break;
        }
        case 'x': case 'u': case 'U': {
            int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (i + (size_t)n > len - 1)
                goto bad;
            uint32_t v = 0;
            for (int k = 0; k < n; k++) {
                int h = hexval((unsigned char)s[i + (size_t)k]);
                if (h < 0)
                    goto bad;
                v = v * 16 + (uint32_t)h;
            }
            i += (size_t)n;
            if (e == 'x') {
                scry_buf_putc(&b, (char)v);
            } else {
                if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
                    goto bad;
                pql__utf8_encode(v, &b);
            }
            break;
        }
        default:
            goto bad;
        }
    }
    *out_len = b.len;
    *out = scry_arena_strndup(a, b.p ? b.p : "", b.len);
    scry_buf_fini(&b);
    return 0;
bad:
    scry_buf_fini(&b);
    return scry_err_set(err, SCRY_EPARSE, "invalid syntax");
}
