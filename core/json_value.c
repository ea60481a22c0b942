/* json_value.c — reading the DOM that json_read.c builds (core/json_read.h):
 * object lookups, typed getters and writing a value back out.
 *
 * Numbers keep their source text, so the integer getters re-read the digits
 * and an int64 never passes through a double; doubles also accept Go's
 * special names (nan, inf, infinity, signed, any case) in strings, as
 * OTLP/JSON writes NaN and infinities. */
#include "core/json_read.h"
#include "core/json_read_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- access */

const struct scry_jval *scry_jval_getn(const struct scry_jval *obj, const char *key, size_t len)
{
    if (!obj || obj->type != SCRY_JSON_OBJECT)
        return NULL;
    /* Backwards, so that of duplicate keys the last wins, as in Go. */
    for (size_t i = obj->n; i-- > 0;) {
        const struct scry_jmember *m = &obj->u.obj[i];
        if (m->key.len == len && memcmp(m->key.p, key, len) == 0)
            return &m->val;
    }
    return NULL;
}

const struct scry_jval *scry_jval_get(const struct scry_jval *obj, const char *key)
{
    return scry_jval_getn(obj, key, strlen(key));
}

const struct scry_jval *scry_jval_at(const struct scry_jval *arr, size_t i)
{
    if (!arr || arr->type != SCRY_JSON_ARRAY || i >= arr->n)
        return NULL;
    return &arr->u.arr[i];
}

size_t scry_jval_len(const struct scry_jval *v)
{
    return v && (v->type == SCRY_JSON_ARRAY || v->type == SCRY_JSON_OBJECT) ? v->n : 0;
}

bool scry_jval_is_null(const struct scry_jval *v) { return !v || v->type == SCRY_JSON_NULL; }

int scry_jval_str(const struct scry_jval *v, struct scry_str *out)
{
    if (!v || v->type != SCRY_JSON_STRING)
        return SCRY_EINVAL;
    *out = (struct scry_str){ v->u.s, v->n };
    return 0;
}

int scry_jval_bool(const struct scry_jval *v, bool *out)
{
    if (!v || v->type != SCRY_JSON_BOOL)
        return SCRY_EINVAL;
    *out = v->b;
    return 0;
}

/* Whether s[0..n) is exactly one JSON number (for numbers inside strings). */
static bool is_json_number(const char *s, size_t n)
{
    const char *p = s, *e = s + n;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && is_digit(*p))
        while (p < e && is_digit(*p))
            p++;
    else
        return false;
    if (p < e && *p == '.') {
        if (++p == e || !is_digit(*p))
            return false;
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p | 0x20) == 'e') {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p == e || !is_digit(*p))
            return false;
        while (p < e && is_digit(*p))
            p++;
    }
    return p == e;
}

/* The text of a number or of a string that holds one, or false. */
static bool number_text(const struct scry_jval *v, const char **s, size_t *n)
{
    if (!v)
        return false;
    if (v->type == SCRY_JSON_NUMBER) {
        *s = v->u.s;
        *n = v->n;
        return true;
    }
    if (v->type == SCRY_JSON_STRING && is_json_number(v->u.s, v->n)) {
        *s = v->u.s;
        *n = v->n;
        return true;
    }
    return false;
}

/* The magnitude of the exact integer that the valid JSON number s[0..n)
 * denotes, from its digits: 1.50e2 is 150, 1.5 is not an integer, and
 * anything above UINT64_MAX is out of range. */
static int integer_of(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    const char *p = s, *e = s + n;
    *neg = *p == '-';
    p += *neg;
    const char *mend = p;
    while (mend < e && (*mend | 0x20) != 'e')
        mend++;
    int64_t ex = 0;
    if (mend < e) {
        const char *q = mend + 1;
        bool eneg = *q == '-';
        q += *q == '-' || *q == '+';
        for (; q < e; q++)
            if (ex < EXP_CAP)
                ex = ex * 10 + (*q - '0');
        ex = eneg ? -ex : ex;
    }
    const char *dot = memchr(p, '.', (size_t)(mend - p));
    if (dot)
        ex -= mend - dot - 1;
    /* Significant digits: first to last nonzero; trailing zeros go to ex. */
    const char *first = p, *last = mend;
    while (first < mend && (*first == '0' || *first == '.'))
        first++;
    if (first == mend) {
        *mag = 0;
        return 0;
    }
    while (last[-1] == '0' || last[-1] == '.') {
        last--;
        ex += *last == '0';
    }
    if (ex < 0)
        return SCRY_EINVAL; /* a fraction is left */
    if (ex > 20)
        return SCRY_EINVAL;
    uint64_t m = 0;
    for (const char *q = first; q < last; q++) {
        if (*q == '.')
            continue;
        if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, (uint64_t)(*q - '0'), &m))
            return SCRY_EINVAL;
    }
    for (int64_t i = 0; i < ex; i++)
        if (__builtin_mul_overflow(m, 10, &m))
            return SCRY_EINVAL;
    *mag = m;
    return 0;
}

/* v as a sign and magnitude, when it is an integer (see integer_of). */
static int jval_integer(const struct scry_jval *v, bool *neg, uint64_t *mag)
{
    const char *s;
    size_t n;
    if (!number_text(v, &s, &n) || integer_of(s, n, neg, mag) < 0)
        return SCRY_EINVAL;
    return 0;
}

int scry_jval_int64(const struct scry_jval *v, int64_t *out)
{
    bool neg;
    uint64_t mag;
    if (jval_integer(v, &neg, &mag) < 0)
        return SCRY_EINVAL;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return SCRY_EINVAL;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag; /* 0 - 2^63 wraps to INT64_MIN */
    return 0;
}

int scry_jval_uint64(const struct scry_jval *v, uint64_t *out)
{
    bool neg;
    uint64_t mag;
    if (jval_integer(v, &neg, &mag) < 0 || (neg && mag != 0))
        return SCRY_EINVAL;
    *out = mag;
    return 0;
}

/* Go's strconv.ParseFloat special names: [+-]inf, [+-]infinity, nan, any case. */
static bool special_double(const char *s, size_t n, double *out)
{
    double sign = 1;
    if (n && (*s == '+' || *s == '-')) {
        sign = *s == '-' ? -1 : 1;
        s++;
        n--;
        if ((n == 3 && strncasecmp(s, "inf", 3) == 0) ||
            (n == 8 && strncasecmp(s, "infinity", 8) == 0)) {
            *out = sign * INFINITY;
            return true;
        }
        return false;
    }
    if ((n == 3 && strncasecmp(s, "inf", 3) == 0) || (n == 8 && strncasecmp(s, "infinity", 8) == 0)) {
        *out = INFINITY;
        return true;
    }
    if (n == 3 && strncasecmp(s, "nan", 3) == 0) {
        *out = NAN;
        return true;
    }
    return false;
}

int scry_jval_double(const struct scry_jval *v, double *out)
{
    if (!v)
        return SCRY_EINVAL;
    if (v->type == SCRY_JSON_NUMBER) {
        if (isinf(v->d))
            return SCRY_EINVAL; /* 1e400: Go's "value out of range" */
        *out = v->d;
        return 0;
    }
    if (v->type != SCRY_JSON_STRING)
        return SCRY_EINVAL;
    if (special_double(v->u.s, v->n, out))
        return 0;
    if (!is_json_number(v->u.s, v->n))
        return SCRY_EINVAL;
    double d = scry__json_strtod_c(v->u.s, NULL); /* NUL-terminated and all number */
    if (isinf(d))
        return SCRY_EINVAL;
    *out = d;
    return 0;
}

int scry_jval_hex(const struct scry_jval *v, uint8_t *out, size_t len)
{
    if (!v || v->type != SCRY_JSON_STRING || v->n != 2 * len)
        return SCRY_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(v->u.s[2 * i]), lo = hexval(v->u.s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return SCRY_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

void scry_jval_write(struct scry_json *j, const struct scry_jval *v)
{
    switch (v->type) {
    case SCRY_JSON_NULL: scry_json_null(j); break;
    case SCRY_JSON_BOOL: scry_json_bool(j, v->b); break;
    case SCRY_JSON_NUMBER: scry_json_raw(j, v->u.s, v->n); break;
    case SCRY_JSON_STRING: scry_json_strn(j, v->u.s, v->n); break;
    case SCRY_JSON_ARRAY:
        scry_json_arr_begin(j);
        for (size_t i = 0; i < v->n; i++)
            scry_jval_write(j, &v->u.arr[i]);
        scry_json_arr_end(j);
        break;
    case SCRY_JSON_OBJECT:
        scry_json_obj_begin(j);
        for (size_t i = 0; i < v->n; i++) {
            scry_json_keyn(j, v->u.obj[i].key.p, v->u.obj[i].key.len);
            scry_jval_write(j, &v->u.obj[i].val);
        }
        scry_json_obj_end(j);
        break;
    }
}

bool scry_jval_equal(const struct scry_jval *a, const struct scry_jval *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SCRY_JSON_NULL: return true;
    case SCRY_JSON_BOOL: return a->b == b->b;
    case SCRY_JSON_NUMBER:
    case SCRY_JSON_STRING: return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
    case SCRY_JSON_ARRAY:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!scry_jval_equal(&a->u.arr[i], &b->u.arr[i]))
                return false;
        return true;
    case SCRY_JSON_OBJECT:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++) {
            const struct scry_jmember *x = &a->u.obj[i], *y = &b->u.obj[i];
            if (x->key.len != y->key.len || memcmp(x->key.p, y->key.p, x->key.len) != 0 ||
                !scry_jval_equal(&x->val, &y->val))
                return false;
        }
        return true;
    }
    return false;
}
