/* otlp_json.c — the OTLP/JSON pieces every signal shares: a walker
 * context that tracks the JSON path for error messages, typed getters that
 * accept lowerCamelCase and snake_case keys (64-bit integers as numbers or
 * strings), and the common.v1 messages (KeyValue, AnyValue) filled into
 * the protobuf-c structs. Used by otlp_metrics_json.c and otlp_logs_json.c;
 * the rules are in otlp_metrics_json.c's header comment. */
#include "collector/otlp_json_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>



int col__oj_fail(struct col__oj *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return scry_err_set(c->err, SCRY_EPARSE, "otlp json: %s: %s",
                        c->path.len ? c->path.p : "(root)", msg);
}

/* Path bookkeeping: push returns the length to pop back to. */
size_t col__oj_push(struct col__oj *c, const char *key, long idx)
{
    size_t at = c->path.len;
    if (key)
        scry_buf_printf(&c->path, "%s%s", at ? "." : "", key);
    if (idx >= 0)
        scry_buf_printf(&c->path, "[%ld]", idx);
    return at;
}

void col__oj_pop(struct col__oj *c, size_t at)
{
    c->path.len = at;
    if (c->path.p)
        c->path.p[at] = 0;
}

/* The member by its lowerCamelCase or snake_case name; NULL if absent or null. */
jv *col__oj_field(jv *obj, const char *camel, const char *snake)
{
    jv *v = scry_jval_get(obj, camel);
    if (!v && snake)
        v = scry_jval_get(obj, snake);
    return scry_jval_is_null(v) ? NULL : v;
}

/* Each getter leaves *out alone when the key is absent. */
int col__oj_get_str(struct col__oj *c, jv *o, const char *camel, const char *snake, char **out)
{
    jv *v = col__oj_field(o, camel, snake);
    struct scry_str s;
    if (!v)
        return 0;
    if (scry_jval_str(v, &s) != 0) {
        size_t at = col__oj_push(c, camel, -1);
        int rc = col__oj_fail(c, "want a string");
        col__oj_pop(c, at);
        return rc;
    }
    *out = (char *)s.p; /* NUL-terminated, arena-owned */
    return 0;
}

#define GETTER(name, type, fn, what)                                                       \
    int name(struct col__oj *c, jv *o, const char *camel, const char *snake, type *out) \
    {                                                                                      \
        jv *v = col__oj_field(o, camel, snake);                                                    \
        if (!v || fn(v, out) == 0)                                                         \
            return 0;                                                                      \
        size_t at = col__oj_push(c, camel, -1);                                                    \
        int rc = col__oj_fail(c, "want " what);                                                    \
        col__oj_pop(c, at);                                                                        \
        return rc;                                                                         \
    }
GETTER(col__oj_get_u64, uint64_t, scry_jval_uint64, "an unsigned 64-bit integer (number or string)")
GETTER(col__oj_get_i64, int64_t, scry_jval_int64, "a 64-bit integer (number or string)")
GETTER(col__oj_get_double, double, scry_jval_double, "a number")
GETTER(col__oj_get_bool, bool, scry_jval_bool, "true or false")

int col__oj_get_i32(struct col__oj *c, jv *o, const char *camel, const char *snake, int64_t lo,
                   int64_t hi, int64_t *out)
{
    int64_t v = *out;
    int rc = col__oj_get_i64(c, o, camel, snake, &v);
    if (rc != 0)
        return rc;
    if (v < lo || v > hi) {
        size_t at = col__oj_push(c, camel, -1);
        rc = col__oj_fail(c, "%lld is out of range", (long long)v);
        col__oj_pop(c, at);
        return rc;
    }
    *out = v;
    return 0;
}

/* An array member: *n elements (0 when absent); an error when not an array. */
int col__oj_get_arr(struct col__oj *c, jv *o, const char *camel, const char *snake, jv **arr,
                   size_t *n)
{
    jv *v = col__oj_field(o, camel, snake);
    *arr = NULL;
    *n = 0;
    if (!v)
        return 0;
    if (v->type != SCRY_JSON_ARRAY) {
        size_t at = col__oj_push(c, camel, -1);
        int rc = col__oj_fail(c, "want an array");
        col__oj_pop(c, at);
        return rc;
    }
    *arr = v;
    *n = v->n;
    return 0;
}

int col__oj_want_obj(struct col__oj *c, jv *v)
{
    return v->type == SCRY_JSON_OBJECT ? 0 : col__oj_fail(c, "want an object");
}

/* ---- common.v1 ---------------------------------------------------------- */

static int b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* proto3 JSON bytes: standard or URL-safe base64, padding optional. */
static int base64(struct col__oj *c, struct scry_str s, ProtobufCBinaryData *out)
{
    uint8_t *d = scry_arena_alloc(c->a, s.len / 4 * 3 + 3);
    size_t n = 0, i = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; i < s.len && s.p[i] != '='; i++) {
        int v = b64val((unsigned char)s.p[i]);
        if (v < 0)
            return col__oj_fail(c, "invalid base64");
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[n++] = (uint8_t)(acc >> bits);
        }
    }
    for (; i < s.len; i++)
        if (s.p[i] != '=')
            return col__oj_fail(c, "invalid base64");
    out->data = d;
    out->len = n;
    return 0;
}

static int key_value(struct col__oj *c, jv *v, ot_kv **out)
{
    if (col__oj_want_obj(c, v) != 0)
        return SCRY_EPARSE;
    ot_kv *kv = scry_arena_alloc(c->a, sizeof *kv);
    opentelemetry__proto__common__v1__key_value__init(kv);
    int rc = col__oj_get_str(c, v, "key", NULL, &kv->key);
    jv *val = col__oj_field(v, "value", NULL);
    if (rc == 0 && val) {
        size_t at = col__oj_push(c, "value", -1);
        rc = col__oj_any_value(c, val, &kv->value);
        col__oj_pop(c, at);
    }
    *out = kv;
    return rc;
}

int col__oj_key_values(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t *n,
                      ot_kv ***out)
{
    jv *arr;
    int rc = col__oj_get_arr(c, o, camel, snake, &arr, n);
    if (rc != 0 || *n == 0)
        return rc;
    *out = scry_arena_alloc(c->a, *n * sizeof **out);
    for (size_t i = 0; i < *n && rc == 0; i++) {
        size_t at = col__oj_push(c, camel, (long)i);
        rc = key_value(c, &arr->u.arr[i], &(*out)[i]);
        col__oj_pop(c, at);
    }
    return rc;
}

int col__oj_any_value(struct col__oj *c, jv *v, ot_any **out)
{
    if (col__oj_want_obj(c, v) != 0)
        return SCRY_EPARSE;
    ot_any *a = scry_arena_alloc(c->a, sizeof *a);
    opentelemetry__proto__common__v1__any_value__init(a);
    *out = a;
    jv *x;
    int rc = 0;
    if ((x = col__oj_field(v, "stringValue", "string_value"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = "";
        rc = col__oj_get_str(c, v, "stringValue", "string_value", &a->string_value);
    } else if ((x = col__oj_field(v, "boolValue", "bool_value"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        bool b = false;
        rc = col__oj_get_bool(c, v, "boolValue", "bool_value", &b);
        a->bool_value = b;
    } else if ((x = col__oj_field(v, "intValue", "int_value"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        rc = col__oj_get_i64(c, v, "intValue", "int_value", &a->int_value);
    } else if ((x = col__oj_field(v, "doubleValue", "double_value"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        rc = col__oj_get_double(c, v, "doubleValue", "double_value", &a->double_value);
    } else if ((x = col__oj_field(v, "arrayValue", "array_value"))) {
        size_t at = col__oj_push(c, "arrayValue", -1);
        ot_array *arr = scry_arena_alloc(c->a, sizeof *arr);
        opentelemetry__proto__common__v1__array_value__init(arr);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        a->array_value = arr;
        jv *vals;
        rc = col__oj_want_obj(c, x);
        if (rc == 0)
            rc = col__oj_get_arr(c, x, "values", NULL, &vals, &arr->n_values);
        if (rc == 0 && arr->n_values)
            arr->values = scry_arena_alloc(c->a, arr->n_values * sizeof *arr->values);
        for (size_t i = 0; rc == 0 && i < arr->n_values; i++) {
            size_t at2 = col__oj_push(c, "values", (long)i);
            rc = col__oj_any_value(c, &vals->u.arr[i], &arr->values[i]);
            col__oj_pop(c, at2);
        }
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(v, "kvlistValue", "kvlist_value"))) {
        size_t at = col__oj_push(c, "kvlistValue", -1);
        ot_kvlist *l = scry_arena_alloc(c->a, sizeof *l);
        opentelemetry__proto__common__v1__key_value_list__init(l);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        a->kvlist_value = l;
        rc = col__oj_want_obj(c, x);
        if (rc == 0)
            rc = col__oj_key_values(c, x, "values", NULL, &l->n_values, &l->values);
        col__oj_pop(c, at);
    } else if ((x = col__oj_field(v, "bytesValue", "bytes_value"))) {
        struct scry_str s;
        size_t at = col__oj_push(c, "bytesValue", -1);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        rc = scry_jval_str(x, &s) == 0 ? base64(c, s, &a->bytes_value) : col__oj_fail(c, "want a string");
        col__oj_pop(c, at);
    }
    return rc; /* {} is a valid empty value */
}

/* ---- metrics.v1 --------------------------------------------------------- */

int col__oj_hex_id(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t len,
                  ProtobufCBinaryData *out)
{
    jv *v = col__oj_field(o, camel, snake);
    struct scry_str s;
    if (!v)
        return 0;
    size_t at = col__oj_push(c, camel, -1);
    int rc = 0;
    if (scry_jval_str(v, &s) != 0) {
        rc = col__oj_fail(c, "want a hex string");
    } else if (s.len > 0) {
        uint8_t *d = scry_arena_alloc(c->a, len);
        if (scry_jval_hex(v, d, len) != 0)
            rc = col__oj_fail(c, "want %zu hex digits", 2 * len);
        out->data = d;
        out->len = len;
    }
    col__oj_pop(c, at);
    return rc;
}

