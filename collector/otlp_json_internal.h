/* otlp_json_internal.h — the shared OTLP/JSON walker (otlp_json.c), for
 * collector/otlp*_json.c only. Each getter leaves *out alone when the key
 * is absent and fails with SCRY_EPARSE naming the JSON path otherwise. */
#ifndef SCRY_COLLECTOR_OTLP_JSON_INTERNAL_H
#define SCRY_COLLECTOR_OTLP_JSON_INTERNAL_H

#include "collector/otlp_internal.h"
#include "core/json_read.h"

typedef const struct scry_jval jv;

struct col__oj {
    struct scry_arena *a;
    struct scry_err *err;
    struct scry_buf path; /* where we are, for messages */
};

int col__oj_fail(struct col__oj *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Path bookkeeping: push returns the length to pop back to. */
size_t col__oj_push(struct col__oj *c, const char *key, long idx);
void col__oj_pop(struct col__oj *c, size_t at);
/* The member by its lowerCamelCase or snake_case name; NULL if absent or null. */
jv *col__oj_field(jv *obj, const char *camel, const char *snake);
int col__oj_get_str(struct col__oj *c, jv *o, const char *camel, const char *snake, char **out);
int col__oj_get_u64(struct col__oj *c, jv *o, const char *camel, const char *snake, uint64_t *out);
int col__oj_get_i64(struct col__oj *c, jv *o, const char *camel, const char *snake, int64_t *out);
int col__oj_get_double(struct col__oj *c, jv *o, const char *camel, const char *snake,
                       double *out);
int col__oj_get_bool(struct col__oj *c, jv *o, const char *camel, const char *snake, bool *out);
int col__oj_get_i32(struct col__oj *c, jv *o, const char *camel, const char *snake, int64_t lo,
                    int64_t hi, int64_t *out);
/* An array member: *n elements (0 when absent). */
int col__oj_get_arr(struct col__oj *c, jv *o, const char *camel, const char *snake, jv **arr,
                    size_t *n);
int col__oj_want_obj(struct col__oj *c, jv *v);
/* repeated KeyValue and AnyValue (common.v1), allocated from c->a. */
int col__oj_key_values(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t *n,
                       ot_kv ***out);
int col__oj_any_value(struct col__oj *c, jv *v, ot_any **out);
/* A trace/span id: exactly 2*len hex digits; "" means absent. */
int col__oj_hex_id(struct col__oj *c, jv *o, const char *camel, const char *snake, size_t len,
                   ProtobufCBinaryData *out);

#endif
