/* json_read.h — a strict JSON parser into an arena-allocated DOM.
 *
 * The reading half of core/json.h: OTLP/JSON and Loki push bodies, and API
 * responses from the systems we talk to. scry_json_parse() copies the input
 * into the arena once and builds a tree of struct scry_jval there; the
 * caller's bytes may be freed as soon as it returns, and the whole DOM goes
 * away with the arena (STYLE.md §6). Nothing is freed one by one.
 *
 * The grammar is RFC 8259, strictly: no comments, no trailing commas, no
 * leading zeros, no NaN/Infinity literals, no raw control characters in
 * strings; whitespace after the value is allowed, anything else is an error.
 * Where RFC 8259 leaves room we do what Go's encoding/json does, since the
 * peers we emulate (Prometheus, Loki, the OTel collector) are Go programs:
 *   - invalid UTF-8 inside a string is not an error: each byte that does not
 *     start a valid UTF-8 sequence decodes to U+FFFD;
 *   - \u escapes of lone or mismatched UTF-16 surrogates decode to U+FFFD;
 *   - error messages read like Go's ("invalid character 'x' looking for
 *     beginning of value", "unexpected end of JSON input");
 *   - duplicate object keys are kept, in order; lookup returns the last one,
 *     which is what Go's Unmarshal keeps.
 * Numbers that overflow a double (1e400) parse; the DOM holds ±Inf and the
 * getters below refuse them, as Go refuses to unmarshal them into float64. */
#ifndef SCRY_CORE_JSON_READ_H
#define SCRY_CORE_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#define SCRY_JSON_PARSE_MAX_DEPTH 128 /* default nesting limit */

enum scry_jtype {
    SCRY_JSON_NULL,
    SCRY_JSON_BOOL,
    SCRY_JSON_NUMBER,
    SCRY_JSON_STRING,
    SCRY_JSON_ARRAY,
    SCRY_JSON_OBJECT,
};

struct scry_jmember;

/* One JSON value. All pointers point into the arena the value was parsed in.
 * Iterate an array with v->u.arr[0..v->n), an object with
 * v->u.obj[0..v->n) (members in document order, duplicates included). */
struct scry_jval {
    enum scry_jtype type;
    bool b;   /* BOOL */
    size_t n; /* STRING, NUMBER: bytes of u.s; ARRAY, OBJECT: elements */
    union {
        /* STRING: unescaped UTF-8, NUL-terminated (it may also hold NULs).
         * NUMBER: the source text, exactly as written, not NUL-terminated. */
        const char *s;
        const struct scry_jval *arr;
        const struct scry_jmember *obj;
    } u;
    double d; /* NUMBER: the nearest double; ±Inf when out of range */
};

struct scry_jmember {
    struct scry_str key; /* unescaped, NUL-terminated */
    struct scry_jval val;
};

struct scry_json_parse_opts {
    int max_depth;    /* containers open at once; 0 → SCRY_JSON_PARSE_MAX_DEPTH */
    size_t max_bytes; /* longer input fails with SCRY_ELIMIT; 0 → no limit */
};

/* Parses p[0..len) into a DOM allocated from a; opts may be NULL. Returns 0
 * with *out set, or SCRY_EPARSE (syntax) / SCRY_ELIMIT (depth, size) with err
 * filled in: a Go-style message, err->offset the 0-based byte offset of the
 * offending byte (len for a truncated input; Go's Offset is ours + 1 for an
 * invalid character) and err->line/col (1-based, col counts bytes). *out is
 * only written on success. On failure the arena keeps what was allocated.
 * Thread-safe for distinct arenas. */
int scry_json_parse(struct scry_arena *a, const char *p, size_t len,
                    const struct scry_json_parse_opts *opts, struct scry_jval **out,
                    struct scry_err *err);

/* Member lookup: the last member named key, or NULL when obj is NULL, not an
 * object or has no such key. Linear in the member count. NULL-tolerant, so
 * lookups chain: scry_jval_get(scry_jval_get(root, "resource"), "attributes"). */
const struct scry_jval *scry_jval_get(const struct scry_jval *obj, const char *key);
const struct scry_jval *scry_jval_getn(const struct scry_jval *obj, const char *key,
                                       size_t len);
/* Array element i, or NULL when arr is NULL, not an array or too short. */
const struct scry_jval *scry_jval_at(const struct scry_jval *arr, size_t i);
/* Element count of an array or object; 0 for anything else and NULL. */
size_t scry_jval_len(const struct scry_jval *v);
/* true when v is JSON null or NULL (an absent key): OTLP treats both as unset. */
bool scry_jval_is_null(const struct scry_jval *v);

/* The getters return 0 with *out set, or SCRY_EINVAL (wrong type, bad
 * syntax, out of range) leaving *out alone. */

/* A string's bytes (NUL-terminated). */
int scry_jval_str(const struct scry_jval *v, struct scry_str *out);
int scry_jval_bool(const struct scry_jval *v, bool *out);
/* An exact integer given as a JSON number or as a string holding a JSON
 * number (OTLP's 64-bit ints): "10", 10, 1e3, "1.50e2" are fine, 1.5 and
 * 9223372036854775808 are not. Computed from the digits, never through a
 * double, so 2^53+1 stays exact. */
int scry_jval_int64(const struct scry_jval *v, int64_t *out);
int scry_jval_uint64(const struct scry_jval *v, uint64_t *out);
/* A finite JSON number (1e400 is out of range), or a string holding a JSON
 * number, "NaN", "Infinity", "-Infinity" (proto3 JSON) or "Inf", "+Inf",
 * "-Inf" (Prometheus). As in Go's strconv.ParseFloat the names match
 * case-insensitively, "Inf"/"Infinity" take an optional sign and "NaN" none. */
int scry_jval_double(const struct scry_jval *v, double *out);
/* A string of exactly 2*len hex digits (either case) decoded into out[0..len)
 * (OTLP trace and span ids). The caller decides what an empty string means. */
int scry_jval_hex(const struct scry_jval *v, uint8_t *out, size_t len);

/* Writes v with the writer: numbers exactly as their source text, strings
 * re-escaped. Recursive; the writer asserts nesting below
 * SCRY_JSON_MAX_DEPTH, so parse with max_depth < SCRY_JSON_MAX_DEPTH first. */
void scry_jval_write(struct scry_json *j, const struct scry_jval *v);
/* Deep equality: same types, number texts, string bytes, and members in the
 * same order. Recursive (depth as parsed). NULLs are equal to each other. */
bool scry_jval_equal(const struct scry_jval *a, const struct scry_jval *b);

#endif
