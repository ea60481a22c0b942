/* Tests core/json_read.c: the grammar (valid and invalid documents with Go's
 * messages and exact positions), numbers and their getters, string escapes
 * and UTF-8 handling, limits, the OTLP and Loki documents of the contracts,
 * and round trips through the writer in core/json.h. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/json.h"
#include "core/json_read.h"

/* Parses doc (NUL-terminated) and returns its compact re-serialisation. */
static char *reserialize(struct scry_arena *a, const char *doc)
{
    struct scry_jval *v = NULL;
    struct scry_err err = { 0 };
    int rc = scry_json_parse(a, doc, strlen(doc), NULL, &v, &err);
    if (rc != 0)
        fail_msg("parse %s: %s", doc, err.msg);
    struct scry_buf b = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b);
    scry_jval_write(&j, v);
    char *s = scry_arena_strdup(a, b.p);
    scry_buf_fini(&b);
    return s;
}

static struct scry_jval *parse_ok(struct scry_arena *a, const char *doc)
{
    struct scry_jval *v = NULL;
    struct scry_err err = { 0 };
    int rc = scry_json_parse(a, doc, strlen(doc), NULL, &v, &err);
    if (rc != 0)
        fail_msg("parse %s: %s", doc, err.msg);
    assert_non_null(v);
    return v;
}

static void test_json_read_valid_documents(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "null", "null" },
        { "true", "true" },
        { "false", "false" },
        { "0", "0" },
        { "-0", "-0" },
        { "1.5", "1.5" },
        { "-1.5e-3", "-1.5e-3" },
        { "1E+2", "1E+2" },
        { "1e400", "1e400" },
        { "123456789012345678901234567890", "123456789012345678901234567890" },
        { "\"\"", "\"\"" },
        { "\"\\u0041\\/\\\\\\\"\"", "\"A/\\\\\\\"\"" },
        { "\"\\b\\f\\n\\r\\t\"", "\"\\u0008\\u000c\\n\\r\\t\"" },
        { "[]", "[]" },
        { "{}", "{}" },
        { " [ ] ", "[]" },
        { "[1,[2,[3,[]]],{}]", "[1,[2,[3,[]]],{}]" },
        { " \t\r\n{ \"a\" : [ 1 , 2 ] ,\"b\":{\"c\":null}} \n", "{\"a\":[1,2],\"b\":{\"c\":null}}" },
        { "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}" },
        { "[\"\\u2028\"]", "[\"\\u2028\"]" },
        { "[true,false,null,\"x\",-2,0.5]", "[true,false,null,\"x\",-2,0.5]" },
        { "{\"\":\"\"}", "{\"\":\"\"}" },
        { "\"\xe2\x82\xac \xf0\x9f\x98\x80\"", "\"\xe2\x82\xac \xf0\x9f\x98\x80\"" },
    };
    struct scry_arena *a = scry_arena_create(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = reserialize(a, cases[i].in);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu %s: got %s want %s", i, cases[i].in, got, cases[i].want);
    }
    scry_arena_destroy(a);
}

struct bad {
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t offset;
    int line, col;
    const char *msg;
};

static const struct bad bad_docs[] = {
    { "", 0, 0, 1, 1, "unexpected end of JSON input" },
    { "   ", 0, 3, 1, 4, "unexpected end of JSON input" },
    { "x", 0, 0, 1, 1, "invalid character 'x' looking for beginning of value" },
    { "[1,]", 0, 3, 1, 4, "invalid character ']' looking for beginning of value" },
    { "[,1]", 0, 1, 1, 2, "invalid character ',' looking for beginning of value" },
    { "[1,2,]", 0, 5, 1, 6, "invalid character ']' looking for beginning of value" },
    { "{\"a\":1,}", 0, 7, 1, 8, "invalid character '}' looking for beginning of object key string" },
    { "{,}", 0, 1, 1, 2, "invalid character ',' looking for beginning of object key string" },
    { "{'a':1}", 0, 1, 1, 2, "invalid character '\\'' looking for beginning of object key string" },
    { "{\"a\" 1}", 0, 5, 1, 6, "invalid character '1' after object key" },
    { "{\"a\":1,\"b\"}", 0, 10, 1, 11, "invalid character '}' after object key" },
    { "{\"a\"::1}", 0, 5, 1, 6, "invalid character ':' looking for beginning of value" },
    { "{\"a\":1 \"b\":2}", 0, 7, 1, 8, "invalid character '\"' after object key:value pair" },
    { "[1 2]", 0, 3, 1, 4, "invalid character '2' after array element" },
    { "[true false]", 0, 6, 1, 7, "invalid character 'f' after array element" },
    { "01", 0, 1, 1, 2, "invalid character '1' after top-level value" },
    { "-01", 0, 2, 1, 3, "invalid character '1' after top-level value" },
    { "[01]", 0, 2, 1, 3, "invalid character '1' after array element" },
    { "1 2", 0, 2, 1, 3, "invalid character '2' after top-level value" },
    { "{}x", 0, 2, 1, 3, "invalid character 'x' after top-level value" },
    { "[1]]", 0, 3, 1, 4, "invalid character ']' after top-level value" },
    { "truefalse", 0, 4, 1, 5, "invalid character 'f' after top-level value" },
    { "1e5.0", 0, 3, 1, 4, "invalid character '.' after top-level value" },
    { "-", 0, 1, 1, 2, "unexpected end of JSON input" },
    { "-x", 0, 1, 1, 2, "invalid character 'x' in numeric literal" },
    { "[-]", 0, 2, 1, 3, "invalid character ']' in numeric literal" },
    { "1.", 0, 2, 1, 3, "unexpected end of JSON input" },
    { "1.x", 0, 2, 1, 3, "invalid character 'x' after decimal point in numeric literal" },
    { "[2.]", 0, 3, 1, 4, "invalid character ']' after decimal point in numeric literal" },
    { "1e", 0, 2, 1, 3, "unexpected end of JSON input" },
    { "1e+", 0, 3, 1, 4, "unexpected end of JSON input" },
    { "1ex", 0, 2, 1, 3, "invalid character 'x' in exponent of numeric literal" },
    { "[1e]", 0, 3, 1, 4, "invalid character ']' in exponent of numeric literal" },
    { ".5", 0, 0, 1, 1, "invalid character '.' looking for beginning of value" },
    { "+1", 0, 0, 1, 1, "invalid character '+' looking for beginning of value" },
    { "NaN", 0, 0, 1, 1, "invalid character 'N' looking for beginning of value" },
    { "[Infinity]", 0, 1, 1, 2, "invalid character 'I' looking for beginning of value" },
    { "tru", 0, 3, 1, 4, "unexpected end of JSON input" },
    { "trux", 0, 3, 1, 4, "invalid character 'x' in literal true (expecting 'e')" },
    { "nulL", 0, 3, 1, 4, "invalid character 'L' in literal null (expecting 'l')" },
    { "falsy", 0, 4, 1, 5, "invalid character 'y' in literal false (expecting 'e')" },
    { "\"abc", 0, 4, 1, 5, "unexpected end of JSON input" },
    { "\"a\nb\"", 0, 2, 1, 3, "invalid character '\\n' in string literal" },
    { "\"a\tb\"", 0, 2, 1, 3, "invalid character '\\t' in string literal" },
    { "\"a\x01\"", 0, 2, 1, 3, "invalid character '\\x01' in string literal" },
    { "\"\\x\"", 0, 2, 1, 3, "invalid character 'x' in string escape code" },
    { "\"\\U0041\"", 0, 2, 1, 3, "invalid character 'U' in string escape code" },
    { "\"\\u12g4\"", 0, 5, 1, 6, "invalid character 'g' in \\u hexadecimal character escape" },
    { "[\"\\u\"]", 0, 4, 1, 5, "invalid character '\"' in \\u hexadecimal character escape" },
    { "\"\\u12", 0, 5, 1, 6, "unexpected end of JSON input" },
    { "\"\\", 0, 2, 1, 3, "unexpected end of JSON input" },
    { "\"\\\xc3\xa9\"", 0, 2, 1, 3, "invalid character '\xc3\x83' in string escape code" },
    { "[", 0, 1, 1, 2, "unexpected end of JSON input" },
    { "[1", 0, 2, 1, 3, "unexpected end of JSON input" },
    { "[1,", 0, 3, 1, 4, "unexpected end of JSON input" },
    { "{", 0, 1, 1, 2, "unexpected end of JSON input" },
    { "{\"a\"", 0, 4, 1, 5, "unexpected end of JSON input" },
    { "{\"a\":", 0, 5, 1, 6, "unexpected end of JSON input" },
    { "{\"a\":1", 0, 6, 1, 7, "unexpected end of JSON input" },
    { "/* c */1", 0, 0, 1, 1, "invalid character '/' looking for beginning of value" },
    { "\x00", 1, 0, 1, 1, "invalid character '\\x00' looking for beginning of value" },
    { "[1\x00]", 4, 2, 1, 3, "invalid character '\\x00' after array element" },
    { "\"a\x00\"", 4, 2, 1, 3, "invalid character '\\x00' in string literal" },
    { "\xef\xbb\xbf{}", 0, 0, 1, 1, "invalid character '\xc3\xaf' looking for beginning of value" },
    { "\x80", 0, 0, 1, 1, "invalid character '\\u0080' looking for beginning of value" },
    { " \t\v1", 0, 2, 1, 3, "invalid character '\\v' looking for beginning of value" },
    { "\f1", 0, 0, 1, 1, "invalid character '\\f' looking for beginning of value" },
    { "{\n  \"a\": 1,\n  \"b\": x\n}", 0, 19, 3, 8, "invalid character 'x' looking for beginning of value" },
    { "[1,\r\n2,\n,3]", 0, 8, 3, 1, "invalid character ',' looking for beginning of value" },
    { "[\"a\\nb\",\n\"c\" 1]", 0, 13, 2, 5, "invalid character '1' after array element" },
};

static void test_json_read_invalid_documents_with_positions(void **state)
{
    assert_true(sizeof bad_docs / sizeof bad_docs[0] >= 40);
    struct scry_arena *a = scry_arena_create(0);
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        const struct bad *c = &bad_docs[i];
        size_t len = c->len ? c->len : strlen(c->in);
        struct scry_jval *v = (struct scry_jval *)(uintptr_t)1; /* must stay untouched */
        struct scry_err err = { 0 };
        int rc = scry_json_parse(a, c->in, len, NULL, &v, &err);
        if (rc != SCRY_EPARSE || err.code != SCRY_EPARSE)
            fail_msg("case %zu %s: rc %d", i, c->in, rc);
        if (strcmp(err.msg, c->msg) != 0)
            fail_msg("case %zu %s: msg %s want %s", i, c->in, err.msg, c->msg);
        if (err.offset != c->offset || err.line != c->line || err.col != c->col)
            fail_msg("case %zu %s: at %zu %d:%d want %zu %d:%d", i, c->in, err.offset, err.line,
                     err.col, c->offset, c->line, c->col);
        assert_ptr_equal(v, (struct scry_jval *)(uintptr_t)1);
    }
    scry_arena_destroy(a);
}

static void test_json_read_error_with_null_err(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *v = NULL;
    assert_int_equal(scry_json_parse(a, "[1,", 3, NULL, &v, NULL), SCRY_EPARSE);
    assert_null(v);
    assert_int_equal(scry_json_parse(a, "[1]", 3, NULL, NULL, NULL), SCRY_EINVAL);
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- numbers */

static void expect_i64(struct scry_arena *a, const char *doc, int want_rc, int64_t want)
{
    struct scry_jval *v = parse_ok(a, doc);
    int64_t got = 42;
    int rc = scry_jval_int64(v, &got);
    if (rc != want_rc)
        fail_msg("%s: rc %d want %d", doc, rc, want_rc);
    if (rc == 0 && got != want)
        fail_msg("%s: got %lld want %lld", doc, (long long)got, (long long)want);
    if (rc != 0 && got != 42)
        fail_msg("%s: out written on error", doc);
}

static void test_json_read_int64_exact_from_digits(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    expect_i64(a, "9223372036854775807", 0, INT64_MAX);
    expect_i64(a, "-9223372036854775808", 0, INT64_MIN);
    expect_i64(a, "\"9223372036854775807\"", 0, INT64_MAX);
    expect_i64(a, "\"-9223372036854775808\"", 0, INT64_MIN);
    expect_i64(a, "9223372036854775808", SCRY_EINVAL, 0);
    expect_i64(a, "-9223372036854775809", SCRY_EINVAL, 0);
    expect_i64(a, "\"99999999999999999999999\"", SCRY_EINVAL, 0);
    expect_i64(a, "9007199254740993", 0, 9007199254740993LL); /* 2^53 + 1: no double */
    expect_i64(a, "\"1544712660300000000\"", 0, 1544712660300000000LL);
    expect_i64(a, "0", 0, 0);
    expect_i64(a, "-0", 0, 0);
    expect_i64(a, "\"10\"", 0, 10);
    expect_i64(a, "1e3", 0, 1000);
    expect_i64(a, "\"1.50e2\"", 0, 150);
    expect_i64(a, "1.0", 0, 1);
    expect_i64(a, "0.0e5", 0, 0);
    expect_i64(a, "92233720368547758.07e2", 0, INT64_MAX);
    expect_i64(a, "100e-2", 0, 1);
    expect_i64(a, "1.5", SCRY_EINVAL, 0);
    expect_i64(a, "1e-1", SCRY_EINVAL, 0);
    expect_i64(a, "1e19", SCRY_EINVAL, 0);
    expect_i64(a, "1e400", SCRY_EINVAL, 0);
    expect_i64(a, "\" 1\"", SCRY_EINVAL, 0);
    expect_i64(a, "\"+1\"", SCRY_EINVAL, 0);
    expect_i64(a, "\"0x10\"", SCRY_EINVAL, 0);
    expect_i64(a, "\"\"", SCRY_EINVAL, 0);
    expect_i64(a, "true", SCRY_EINVAL, 0);
    expect_i64(a, "null", SCRY_EINVAL, 0);
    expect_i64(a, "[1]", SCRY_EINVAL, 0);
    scry_arena_destroy(a);
}

static void test_json_read_uint64(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    uint64_t u = 7;
    assert_int_equal(scry_jval_uint64(parse_ok(a, "18446744073709551615"), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(scry_jval_uint64(parse_ok(a, "\"18446744073709551615\""), &u), 0);
    assert_true(u == UINT64_MAX);
    u = 7;
    assert_int_equal(scry_jval_uint64(parse_ok(a, "18446744073709551616"), &u), SCRY_EINVAL);
    assert_int_equal(scry_jval_uint64(parse_ok(a, "-1"), &u), SCRY_EINVAL);
    assert_int_equal(scry_jval_uint64(parse_ok(a, "1844674407370955161.5e1"), &u), 0);
    assert_true(u == 18446744073709551615ull);
    assert_int_equal(scry_jval_uint64(parse_ok(a, "-0"), &u), 0);
    assert_true(u == 0);
    scry_arena_destroy(a);
}

static void expect_double(struct scry_arena *a, const char *doc, int want_rc, double want)
{
    struct scry_jval *v = parse_ok(a, doc);
    double got = 42;
    int rc = scry_jval_double(v, &got);
    if (rc != want_rc)
        fail_msg("%s: rc %d want %d", doc, rc, want_rc);
    if (rc != 0)
        return;
    if (isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s: got %.17g want %.17g", doc, got, want);
}

static void test_json_read_double_values_and_specials(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    expect_double(a, "0.1", 0, 0.1);
    expect_double(a, "-0", 0, -0.0);
    expect_double(a, "-0.0", 0, -0.0);
    expect_double(a, "637.704", 0, 637.704);
    expect_double(a, "1e22", 0, 1e22);
    expect_double(a, "1e23", 0, 1e23);
    expect_double(a, "9007199254740993", 0, 9007199254740992.0);
    expect_double(a, "2.2250738585072014e-308", 0, 2.2250738585072014e-308);
    expect_double(a, "4.9e-324", 0, 4.9e-324);
    expect_double(a, "1.7976931348623157e308", 0, 1.7976931348623157e308);
    expect_double(a, "0.000000000000000000000000001", 0, 1e-27);
    expect_double(a, "123456789012345678901234567890", 0, 1.2345678901234568e29);
    expect_double(a, "1e-400", 0, 0.0); /* underflow is no error, as in Go */
    expect_double(a, "1e400", SCRY_EINVAL, 0);
    expect_double(a, "-1e400", SCRY_EINVAL, 0);
    expect_double(a, "\"NaN\"", 0, NAN);
    expect_double(a, "\"nan\"", 0, NAN);
    expect_double(a, "\"Infinity\"", 0, INFINITY);
    expect_double(a, "\"-Infinity\"", 0, -INFINITY);
    expect_double(a, "\"+Infinity\"", 0, INFINITY);
    expect_double(a, "\"Inf\"", 0, INFINITY);
    expect_double(a, "\"+Inf\"", 0, INFINITY);
    expect_double(a, "\"-Inf\"", 0, -INFINITY);
    expect_double(a, "\"-inf\"", 0, -INFINITY);
    expect_double(a, "\"1.5\"", 0, 1.5);
    expect_double(a, "\"-2e3\"", 0, -2000);
    expect_double(a, "\"+NaN\"", SCRY_EINVAL, 0);
    expect_double(a, "\"Infinit\"", SCRY_EINVAL, 0);
    expect_double(a, "\"1e400\"", SCRY_EINVAL, 0);
    expect_double(a, "\"1.5 \"", SCRY_EINVAL, 0);
    expect_double(a, "\"\"", SCRY_EINVAL, 0);
    expect_double(a, "null", SCRY_EINVAL, 0);
    /* The DOM keeps the out-of-range number, as +Inf, with its text. */
    struct scry_jval *v = parse_ok(a, "1e400");
    assert_true(isinf(v->d) && v->d > 0);
    assert_int_equal(v->n, 5);
    assert_memory_equal(v->u.s, "1e400", 5);
    scry_arena_destroy(a);
}

/* Our fast path must agree bit for bit with strtod on numbers near its
 * boundaries (2^53, 10^22, 19 digits). */
static void test_json_read_double_matches_strtod(void **state)
{
    static const char *nums[] = {
        "9007199254740992", "9007199254740991", "9007199254740993.0", "1e-22", "12345e-22",
        "9007199254740991e22", "9007199254740991e-22", "1234567890123456789",
        "12345678901234567890", "0.1234567890123456789", "3.141592653589793", "1e-5",
        "2.718281828459045e10", "100000000000000000000000", "0.30000000000000004",
        "1.00000000000000011102230246251565404236316680908203125",
        "-5e-324", "8.98846567431158e307", "1.000000000000000000000000000001",
    };
    struct scry_arena *a = scry_arena_create(0);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        struct scry_jval *v = parse_ok(a, nums[i]);
        double want = strtod(nums[i], NULL);
        if (memcmp(&v->d, &want, sizeof want) != 0)
            fail_msg("%s: got %.17g want %.17g", nums[i], v->d, want);
    }
    /* And on random shortest-digit doubles written by the writer. */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            continue;
        if (i % 2)
            d = (double)(rand() % 100000) / 1000.0; /* typical metric values */
        struct scry_buf b = { 0 };
        struct scry_json j;
        scry_json_init(&j, &b);
        scry_json_double(&j, d);
        struct scry_jval *v = parse_ok(a, b.p);
        if (v->d != d)
            fail_msg("%s: got %.17g want %.17g", b.p, v->d, d);
        scry_buf_fini(&b);
        if (i % 1000 == 0)
            scry_arena_reset(a);
    }
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- strings */

static void expect_str(struct scry_arena *a, const char *doc, const char *want, size_t want_len)
{
    struct scry_jval *v = parse_ok(a, doc);
    struct scry_str s;
    assert_int_equal(scry_jval_str(v, &s), 0);
    if (s.len != want_len || memcmp(s.p, want, want_len) != 0)
        fail_msg("%s: got %zu bytes", doc, s.len);
    assert_int_equal(s.p[s.len], 0); /* NUL-terminated */
}

#define EXPECT_STR(a, doc, lit) expect_str((a), (doc), (lit), sizeof(lit) - 1)

static void test_json_read_string_escapes(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    EXPECT_STR(a, "\"plain\"", "plain");
    EXPECT_STR(a, "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
    EXPECT_STR(a, "\"a\\u0000b\"", "a\0b");
    EXPECT_STR(a, "\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
    EXPECT_STR(a, "\"\\u20ac\"", "\xe2\x82\xac");
    EXPECT_STR(a, "\"x\\ud83d\\ude00y\"", "x\xf0\x9f\x98\x80y"); /* surrogate pair */
    EXPECT_STR(a, "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
    /* Long strings cross the 8-byte scanner's steps at every alignment. */
    EXPECT_STR(a, "\"0123456789abcdef0123456789\\n\"", "0123456789abcdef0123456789\n");
    EXPECT_STR(a, "\"0123456\\t\"", "0123456\t");
    /* After the first escape, plain runs are moved in place 8 bytes a step,
     * up to the next escape, non-ASCII byte or the closing quote. */
    EXPECT_STR(a, "\"\\\"GET /api/v1/orders/1387062 HTTP/1.1\\\" 200 3981 \\\"-\\\"\"",
               "\"GET /api/v1/orders/1387062 HTTP/1.1\" 200 3981 \"-\"");
    EXPECT_STR(a, "\"\\n0123456789abcdef\xc3\xa9xyz0123456789\\t\"",
               "\n0123456789abcdef\xc3\xa9xyz0123456789\t");
    EXPECT_STR(a, "\"\\na\"", "\na");
    EXPECT_STR(a, "\"\\\\0123456789abcdefgh\xff" "0123456789abcdefgh\\/\"",
               "\\0123456789abcdefgh\xef\xbf\xbd" "0123456789abcdefgh/");
    /* Keys are unescaped too. */
    struct scry_jval *v = parse_ok(a, "{\"k\\u0065y\":1}");
    assert_non_null(scry_jval_get(v, "key"));
    assert_int_equal(v->u.obj[0].key.len, 3);
    assert_int_equal(v->u.obj[0].key.p[3], 0);
    scry_arena_destroy(a);
}

static void test_json_read_invalid_surrogates_become_fffd(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    EXPECT_STR(a, "\"\\ud800\"", "\xef\xbf\xbd");
    EXPECT_STR(a, "\"\\ud800x\"", "\xef\xbf\xbdx");
    EXPECT_STR(a, "\"\\udc00\"", "\xef\xbf\xbd");
    EXPECT_STR(a, "\"\\ud800\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd");
    /* A low surrogate first is replaced; the pair after it still decodes. */
    EXPECT_STR(a, "\"\\udc00\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80");
    /* A high surrogate before a non-surrogate escape: both are decoded. */
    EXPECT_STR(a, "\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A");
    EXPECT_STR(a, "\"\\ud800\\n\"", "\xef\xbf\xbd\n");
    scry_arena_destroy(a);
}

static void test_json_read_invalid_utf8_becomes_fffd_per_byte(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    EXPECT_STR(a, "\"a\xff" "b\"", "a\xef\xbf\xbd" "b");
    EXPECT_STR(a, "\"\xe2\x82\"", "\xef\xbf\xbd\xef\xbf\xbd"); /* truncated: one per byte */
    EXPECT_STR(a, "\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    EXPECT_STR(a, "\"\xed\xa0\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    EXPECT_STR(a, "\"\xf4\x90\x80\x80\"",
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
    EXPECT_STR(a, "\"\xef\xbf\xbd\"", "\xef\xbf\xbd"); /* a real U+FFFD stays */
    /* Mixed with escapes, so the replacement cannot be done in place. */
    EXPECT_STR(a, "\"\\n\x80\x80\x80\\u0041\"",
               "\n\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "A");
    /* Invalid UTF-8 in a key, then a lookup by the replaced key. */
    struct scry_jval *v = parse_ok(a, "{\"\xff\":1}");
    assert_non_null(scry_jval_get(v, "\xef\xbf\xbd"));
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- limits */

/* n times open, then mid, then n times close. */
static char *nested3(const char *open, const char *mid, const char *close, int n)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc((size_t)n * (lo + lc) + lm + 1), *p = s;
    for (int i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = 0;
    return s;
}

static char *nested(const char *open, const char *close, int n)
{
    return nested3(open, "", close, n);
}

static void test_json_read_depth_limit(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *v;
    struct scry_err err = { 0 };
    char *ok = nested("[", "]", SCRY_JSON_PARSE_MAX_DEPTH);
    assert_int_equal(scry_json_parse(a, ok, strlen(ok), NULL, &v, &err), 0);
    char *deep = nested("[", "]", SCRY_JSON_PARSE_MAX_DEPTH + 1);
    assert_int_equal(scry_json_parse(a, deep, strlen(deep), NULL, &v, &err), SCRY_ELIMIT);
    assert_int_equal(err.offset, SCRY_JSON_PARSE_MAX_DEPTH);
    assert_string_equal(err.msg, "exceeded max nesting depth (128)");
    char *objs = nested3("{\"a\":", "0", "}", 11);
    struct scry_json_parse_opts opts = { .max_depth = 10 };
    assert_int_equal(scry_json_parse(a, objs, strlen(objs), &opts, &v, &err), SCRY_ELIMIT);
    assert_int_equal(err.offset, 50);
    opts.max_depth = 11;
    assert_int_equal(scry_json_parse(a, objs, strlen(objs), &opts, &v, &err), 0);
    /* A million brackets with a huge limit: heap, not C stack. */
    char *huge = nested("[", "]", 1000000);
    opts.max_depth = 2000000;
    assert_int_equal(scry_json_parse(a, huge, strlen(huge), &opts, &v, &err), 0);
    assert_int_equal(scry_jval_len(v), 1);
    free(ok);
    free(deep);
    free(objs);
    free(huge);
    scry_arena_destroy(a);
}

static void test_json_read_max_bytes(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *v = NULL;
    struct scry_err err = { 0 };
    struct scry_json_parse_opts opts = { .max_bytes = 4 };
    assert_int_equal(scry_json_parse(a, "[1,2]", 5, &opts, &v, &err), SCRY_ELIMIT);
    assert_null(v);
    assert_int_equal(scry_json_parse(a, "[12]", 4, &opts, &v, &err), 0);
    assert_int_equal(scry_jval_len(v), 1);
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- access */

static void test_json_read_lookup_order_and_duplicates(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *v = parse_ok(a, "{\"b\":1,\"a\":[true,null],\"b\":2,\"c\\u0000d\":3}");
    assert_int_equal(v->type, SCRY_JSON_OBJECT);
    assert_int_equal(scry_jval_len(v), 4);
    assert_string_equal(v->u.obj[0].key.p, "b"); /* document order kept */
    assert_string_equal(v->u.obj[1].key.p, "a");
    int64_t i;
    assert_int_equal(scry_jval_int64(scry_jval_get(v, "b"), &i), 0);
    assert_int_equal(i, 2); /* last wins */
    assert_non_null(scry_jval_getn(v, "c\0d", 3));
    assert_null(scry_jval_get(v, "c"));
    assert_null(scry_jval_get(v, "zz"));
    const struct scry_jval *arr = scry_jval_get(v, "a");
    assert_int_equal(scry_jval_len(arr), 2);
    bool b = false;
    assert_int_equal(scry_jval_bool(scry_jval_at(arr, 0), &b), 0);
    assert_true(b);
    assert_true(scry_jval_is_null(scry_jval_at(arr, 1)));
    assert_null(scry_jval_at(arr, 2));
    assert_true(scry_jval_is_null(scry_jval_get(v, "missing")));
    assert_false(scry_jval_is_null(arr));
    /* NULL-tolerant chains and wrong types. */
    assert_null(scry_jval_get(scry_jval_get(v, "nope"), "x"));
    assert_null(scry_jval_get(arr, "a"));
    assert_null(scry_jval_at(v, 0));
    assert_int_equal(scry_jval_len(scry_jval_get(v, "b")), 0);
    assert_int_equal(scry_jval_bool(scry_jval_get(v, "b"), &b), SCRY_EINVAL);
    struct scry_str s;
    assert_int_equal(scry_jval_str(arr, &s), SCRY_EINVAL);
    scry_arena_destroy(a);
}

static void test_json_read_hex_ids(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    uint8_t id[16], want[16] = { 0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c };
    assert_int_equal(scry_jval_hex(parse_ok(a, "\"5B8EFFF798038103D269B633813FC60C\""), id, 16), 0);
    assert_memory_equal(id, want, 16);
    assert_int_equal(scry_jval_hex(parse_ok(a, "\"5b8efff798038103d269b633813fc60c\""), id, 16), 0);
    assert_memory_equal(id, want, 16);
    assert_int_equal(scry_jval_hex(parse_ok(a, "\"5b8efff798038103\""), id, 16), SCRY_EINVAL);
    assert_int_equal(scry_jval_hex(parse_ok(a, "\"5b8efff798038103d269b633813fc60g\""), id, 16),
                     SCRY_EINVAL);
    assert_int_equal(scry_jval_hex(parse_ok(a, "12"), id, 1), SCRY_EINVAL);
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- contracts */

/* otlp-http.md §5.1, §5.3, §5.4, verbatim. */
static const char otlp_trace[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},\n"
    "  \"scopeSpans\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},\n"
    "   \"spans\":[{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\n"
    "             \"parentSpanId\":\"EEE19B7EC3C1B173\",\"name\":\"I'm a server span\",\n"
    "             \"startTimeUnixNano\":\"1544712660000000000\",\"endTimeUnixNano\":\"1544712661000000000\",\n"
    "             \"kind\":2,\"attributes\":[{\"key\":\"my.span.attr\",\"value\":{\"stringValue\":\"some value\"}}]}]}]}]}\n";

static const char otlp_logs[] =
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},\n"
    "  \"scopeLogs\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},\n"
    "   \"logRecords\":[{\"timeUnixNano\":\"1544712660300000000\",\"observedTimeUnixNano\":\"1544712660300000000\",\n"
    "     \"severityNumber\":10,\"severityText\":\"Information\",\n"
    "     \"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\n"
    "     \"body\":{\"stringValue\":\"Example log record\"},\n"
    "     \"attributes\":[{\"key\":\"int.attribute\",\"value\":{\"intValue\":\"10\"}},\n"
    "                   {\"key\":\"double.attribute\",\"value\":{\"doubleValue\":637.704}}]}]}]}]}\n";

static const char otlp_metrics[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},\n"
    " \"scopeMetrics\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},\"metrics\":[\n"
    "  {\"name\":\"my.counter\",\"unit\":\"1\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\n"
    "     \"dataPoints\":[{\"asDouble\":5,\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.gauge\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":10,\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.histogram\",\"unit\":\"1\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"2\",\"sum\":2,\"bucketCounts\":[\"1\",\"1\"],\"explicitBounds\":[1],\"min\":0,\"max\":2}]}},\n"
    "  {\"name\":\"my.exponential.histogram\",\"unit\":\"1\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"3\",\"sum\":10,\"scale\":0,\"zeroCount\":\"1\",\"positive\":{\"offset\":1,\"bucketCounts\":[\"0\",\"2\"]},\n"
    "      \"min\":0,\"max\":5,\"zeroThreshold\":0}]}}]}]}]}\n";

static const struct scry_jval *path(const struct scry_jval *v, const char *key, size_t i)
{
    return scry_jval_at(scry_jval_get(v, key), i);
}

static void expect_field_str(const struct scry_jval *v, const char *key, const char *want)
{
    struct scry_str s;
    if (scry_jval_str(scry_jval_get(v, key), &s) != 0)
        fail_msg("%s: not a string", key);
    assert_true(scry_str_eqz(s, want));
}

static void test_json_read_otlp_trace_example(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *root = parse_ok(a, otlp_trace);
    const struct scry_jval *rs = path(root, "resourceSpans", 0);
    const struct scry_jval *attr = path(scry_jval_get(rs, "resource"), "attributes", 0);
    expect_field_str(attr, "key", "service.name");
    expect_field_str(scry_jval_get(attr, "value"), "stringValue", "my.service");
    const struct scry_jval *span = path(path(rs, "scopeSpans", 0), "spans", 0);
    assert_non_null(span);
    uint8_t trace_id[16], span_id[8];
    assert_int_equal(scry_jval_hex(scry_jval_get(span, "traceId"), trace_id, 16), 0);
    assert_int_equal(trace_id[0], 0x5b);
    assert_int_equal(trace_id[15], 0x0c);
    assert_int_equal(scry_jval_hex(scry_jval_get(span, "spanId"), span_id, 8), 0);
    assert_int_equal(span_id[7], 0x74);
    expect_field_str(span, "name", "I'm a server span");
    uint64_t start, end;
    assert_int_equal(scry_jval_uint64(scry_jval_get(span, "startTimeUnixNano"), &start), 0);
    assert_int_equal(scry_jval_uint64(scry_jval_get(span, "endTimeUnixNano"), &end), 0);
    assert_true(start == 1544712660000000000ull && end - start == 1000000000ull);
    int64_t kind;
    assert_int_equal(scry_jval_int64(scry_jval_get(span, "kind"), &kind), 0);
    assert_int_equal(kind, 2);
    scry_arena_destroy(a);
}

static void test_json_read_otlp_logs_example(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *root = parse_ok(a, otlp_logs);
    const struct scry_jval *rec =
        path(path(path(root, "resourceLogs", 0), "scopeLogs", 0), "logRecords", 0);
    int64_t t, sev, iv;
    assert_int_equal(scry_jval_int64(scry_jval_get(rec, "timeUnixNano"), &t), 0);
    assert_true(t == 1544712660300000000LL);
    assert_int_equal(scry_jval_int64(scry_jval_get(rec, "severityNumber"), &sev), 0);
    assert_int_equal(sev, 10);
    expect_field_str(scry_jval_get(rec, "body"), "stringValue", "Example log record");
    const struct scry_jval *attrs = scry_jval_get(rec, "attributes");
    assert_int_equal(scry_jval_len(attrs), 2);
    const struct scry_jval *v0 = scry_jval_get(scry_jval_at(attrs, 0), "value");
    assert_int_equal(scry_jval_get(v0, "intValue")->type, SCRY_JSON_STRING);
    assert_int_equal(scry_jval_int64(scry_jval_get(v0, "intValue"), &iv), 0);
    assert_int_equal(iv, 10);
    double d;
    const struct scry_jval *v1 = scry_jval_get(scry_jval_at(attrs, 1), "value");
    assert_int_equal(scry_jval_double(scry_jval_get(v1, "doubleValue"), &d), 0);
    assert_true(d == 637.704);
    scry_arena_destroy(a);
}

static void test_json_read_otlp_metrics_example(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *root = parse_ok(a, otlp_metrics);
    const struct scry_jval *metrics =
        scry_jval_get(path(path(root, "resourceMetrics", 0), "scopeMetrics", 0), "metrics");
    assert_int_equal(scry_jval_len(metrics), 4);
    const struct scry_jval *sum = scry_jval_get(scry_jval_at(metrics, 0), "sum");
    bool mono = false;
    assert_int_equal(scry_jval_bool(scry_jval_get(sum, "isMonotonic"), &mono), 0);
    assert_true(mono);
    double d;
    assert_int_equal(scry_jval_double(scry_jval_get(path(sum, "dataPoints", 0), "asDouble"), &d), 0);
    assert_true(d == 5);
    const struct scry_jval *hp =
        path(scry_jval_get(scry_jval_at(metrics, 2), "histogram"), "dataPoints", 0);
    uint64_t count, b1;
    assert_int_equal(scry_jval_uint64(scry_jval_get(hp, "count"), &count), 0);
    assert_true(count == 2);
    assert_int_equal(scry_jval_uint64(path(hp, "bucketCounts", 1), &b1), 0);
    assert_true(b1 == 1);
    assert_int_equal(scry_jval_double(path(hp, "explicitBounds", 0), &d), 0);
    assert_true(d == 1);
    const struct scry_jval *ep = path(
        scry_jval_get(scry_jval_at(metrics, 3), "exponentialHistogram"), "dataPoints", 0);
    int64_t offset, zc;
    assert_int_equal(scry_jval_int64(scry_jval_get(scry_jval_get(ep, "positive"), "offset"), &offset), 0);
    assert_int_equal(offset, 1);
    assert_int_equal(scry_jval_int64(scry_jval_get(ep, "zeroCount"), &zc), 0);
    assert_int_equal(zc, 1);
    assert_int_equal(scry_jval_uint64(path(scry_jval_get(ep, "positive"), "bucketCounts", 1), &b1), 0);
    assert_true(b1 == 2);
    scry_arena_destroy(a);
}

static void test_json_read_loki_push_example(void **state)
{
    static const char doc[] =
        "{\"streams\":[\n"
        "  {\"stream\":{\"job\":\"app\",\"env\":\"prod\"},\n"
        "   \"values\":[[\"1732440059123456789\",\"first line\"],\n"
        "             [\"1732440060000000000\",\"second line\",{\"trace_id\":\"4bf92f35...\",\"user\":\"bob\"}]]}\n"
        "]}";
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *root = parse_ok(a, doc);
    const struct scry_jval *st = path(root, "streams", 0);
    expect_field_str(scry_jval_get(st, "stream"), "env", "prod");
    const struct scry_jval *values = scry_jval_get(st, "values");
    assert_int_equal(scry_jval_len(values), 2);
    int64_t ts;
    assert_int_equal(scry_jval_at(scry_jval_at(values, 0), 0)->type, SCRY_JSON_STRING);
    assert_int_equal(scry_jval_int64(scry_jval_at(scry_jval_at(values, 0), 0), &ts), 0);
    assert_true(ts == 1732440059123456789LL);
    const struct scry_jval *e1 = scry_jval_at(values, 1);
    assert_int_equal(scry_jval_len(e1), 3);
    expect_field_str(scry_jval_at(e1, 2), "user", "bob");
    scry_arena_destroy(a);
}

/* ---------------------------------------------------------------- round trip */

/* Leaves in document order (keys included) as the generator wrote them. */
struct leaf {
    enum scry_jtype type;
    int kind; /* NUMBER: 0 int64, 1 uint64, 2 double */
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    char s[40];
    size_t len;
};

struct gen {
    uint64_t rng;
    struct leaf *leaves;
    size_t n, cap;
};

static uint64_t rnd(struct gen *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

static struct leaf *add_leaf(struct gen *g, enum scry_jtype t)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        g->leaves = realloc(g->leaves, g->cap * sizeof *g->leaves);
    }
    struct leaf *l = &g->leaves[g->n++];
    memset(l, 0, sizeof *l);
    l->type = t;
    return l;
}

/* A random valid UTF-8 string with the characters that need escaping. */
static void gen_string(struct gen *g, struct leaf *l)
{
    static const uint32_t pool[] = { 'a', 'Z', ' ', '"', '\\', '/', 0, 1, 0x1f, '\n', 0x7f,
                                     0xe9, 0x2028, 0x20ac, 0xfffd, 0x1f600, 0x10ffff };
    size_t n = rnd(g) % 9;
    l->len = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = pool[rnd(g) % (sizeof pool / sizeof pool[0])];
        char *w = l->s + l->len;
        if (cp < 0x80) {
            w[0] = (char)cp;
            l->len += 1;
        } else if (cp < 0x800) {
            w[0] = (char)(0xc0 | cp >> 6);
            w[1] = (char)(0x80 | (cp & 0x3f));
            l->len += 2;
        } else if (cp < 0x10000) {
            w[0] = (char)(0xe0 | cp >> 12);
            w[1] = (char)(0x80 | (cp >> 6 & 0x3f));
            w[2] = (char)(0x80 | (cp & 0x3f));
            l->len += 3;
        } else {
            w[0] = (char)(0xf0 | cp >> 18);
            w[1] = (char)(0x80 | (cp >> 12 & 0x3f));
            w[2] = (char)(0x80 | (cp >> 6 & 0x3f));
            w[3] = (char)(0x80 | (cp & 0x3f));
            l->len += 4;
        }
    }
}

static void gen_value(struct gen *g, struct scry_json *j, int depth)
{
    switch (rnd(g) % (depth < 5 ? 9 : 6)) {
    case 0:
        add_leaf(g, SCRY_JSON_NULL);
        scry_json_null(j);
        break;
    case 1: {
        struct leaf *l = add_leaf(g, SCRY_JSON_BOOL);
        l->b = rnd(g) & 1;
        scry_json_bool(j, l->b);
        break;
    }
    case 2: {
        struct leaf *l = add_leaf(g, SCRY_JSON_NUMBER);
        static const int64_t edge[] = { INT64_MIN, INT64_MAX, 0, -1, 1LL << 53, (1LL << 53) + 1 };
        l->i = rnd(g) % 4 ? (int64_t)rnd(g) >> (rnd(g) % 64) : edge[rnd(g) % 6];
        scry_json_int(j, l->i);
        break;
    }
    case 3: {
        struct leaf *l = add_leaf(g, SCRY_JSON_NUMBER);
        l->kind = 1;
        l->u = rnd(g) % 4 ? rnd(g) : UINT64_MAX;
        scry_json_uint(j, l->u);
        break;
    }
    case 4: {
        struct leaf *l = add_leaf(g, SCRY_JSON_NUMBER);
        l->kind = 2;
        uint64_t bits = rnd(g);
        memcpy(&l->d, &bits, sizeof l->d);
        if (!isfinite(l->d))
            l->d = (double)(int64_t)bits / 1e6;
        scry_json_double(j, l->d);
        break;
    }
    case 5: {
        struct leaf *l = add_leaf(g, SCRY_JSON_STRING);
        gen_string(g, l);
        scry_json_strn(j, l->s, l->len);
        break;
    }
    case 6:
    case 7: {
        add_leaf(g, SCRY_JSON_ARRAY)->len = 0;
        size_t at = g->n - 1, n = rnd(g) % 5;
        scry_json_arr_begin(j);
        for (size_t i = 0; i < n; i++)
            gen_value(g, j, depth + 1);
        scry_json_arr_end(j);
        g->leaves[at].len = n;
        break;
    }
    default: {
        add_leaf(g, SCRY_JSON_OBJECT);
        size_t at = g->n - 1, n = rnd(g) % 5;
        scry_json_obj_begin(j);
        for (size_t i = 0; i < n; i++) {
            struct leaf *k = add_leaf(g, SCRY_JSON_STRING);
            gen_string(g, k);
            scry_json_keyn(j, k->s, k->len);
            gen_value(g, j, depth + 1);
        }
        scry_json_obj_end(j);
        g->leaves[at].len = n;
        break;
    }
    }
}

/* Walks v in document order against the generator's leaves. */
static void check_leaves(const struct scry_jval *v, const struct leaf *l, size_t *at, size_t n)
{
    assert_true(*at < n);
    const struct leaf *want = &l[(*at)++];
    assert_int_equal(v->type, want->type);
    switch (v->type) {
    case SCRY_JSON_BOOL:
        assert_int_equal(v->b, want->b);
        break;
    case SCRY_JSON_NUMBER:
        if (want->kind == 0) {
            int64_t i;
            assert_int_equal(scry_jval_int64(v, &i), 0);
            assert_true(i == want->i);
        } else if (want->kind == 1) {
            uint64_t u;
            assert_int_equal(scry_jval_uint64(v, &u), 0);
            assert_true(u == want->u);
        } else {
            double d;
            assert_int_equal(scry_jval_double(v, &d), 0);
            assert_true(d == want->d);
        }
        break;
    case SCRY_JSON_STRING:
        assert_int_equal(v->n, want->len);
        assert_memory_equal(v->u.s, want->s, want->len);
        break;
    case SCRY_JSON_ARRAY:
        assert_int_equal(v->n, want->len);
        for (size_t i = 0; i < v->n; i++)
            check_leaves(&v->u.arr[i], l, at, n);
        break;
    case SCRY_JSON_OBJECT:
        assert_int_equal(v->n, want->len);
        for (size_t i = 0; i < v->n; i++) {
            const struct leaf *k = &l[(*at)++];
            assert_int_equal(k->type, SCRY_JSON_STRING);
            assert_int_equal(v->u.obj[i].key.len, k->len);
            assert_memory_equal(v->u.obj[i].key.p, k->s, k->len);
            check_leaves(&v->u.obj[i].val, l, at, n);
        }
        break;
    case SCRY_JSON_NULL:
        break;
    }
}

static void test_json_read_round_trip_random_documents(void **state)
{
    struct gen g = { .rng = 0x9e3779b97f4a7c15ull };
    struct scry_arena *a = scry_arena_create(0);
    for (int iter = 0; iter < 2000; iter++) {
        g.n = 0;
        struct scry_buf b1 = { 0 }, b2 = { 0 };
        struct scry_json j;
        scry_json_init(&j, &b1);
        gen_value(&g, &j, 0);
        struct scry_jval *v1, *v2;
        struct scry_err err = { 0 };
        if (scry_json_parse(a, b1.p, b1.len, NULL, &v1, &err) != 0)
            fail_msg("iter %d: %s at %zu in %s", iter, err.msg, err.offset, b1.p);
        size_t at = 0;
        check_leaves(v1, g.leaves, &at, g.n);
        assert_int_equal(at, g.n);
        /* Writing the DOM back gives the same bytes, which parse equal. */
        scry_json_init(&j, &b2);
        scry_jval_write(&j, v1);
        assert_int_equal(b2.len, b1.len);
        assert_memory_equal(b2.p, b1.p, b1.len);
        assert_int_equal(scry_json_parse(a, b2.p, b2.len, NULL, &v2, &err), 0);
        assert_true(scry_jval_equal(v1, v2));
        scry_buf_fini(&b1);
        scry_buf_fini(&b2);
        if (iter % 100 == 0)
            scry_arena_reset(a);
    }
    free(g.leaves);
    scry_arena_destroy(a);
}

static void test_json_read_equal_detects_differences(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    assert_true(scry_jval_equal(parse_ok(a, "{\"a\":[1,\"x\"]}"), parse_ok(a, " {\"a\" : [1, \"x\"]}")));
    assert_false(scry_jval_equal(parse_ok(a, "{\"a\":[1,\"x\"]}"), parse_ok(a, "{\"a\":[1,\"y\"]}")));
    assert_false(scry_jval_equal(parse_ok(a, "[1.0]"), parse_ok(a, "[1]"))); /* texts differ */
    assert_false(scry_jval_equal(parse_ok(a, "{\"a\":1,\"b\":2}"), parse_ok(a, "{\"b\":2,\"a\":1}")));
    assert_false(scry_jval_equal(parse_ok(a, "[]"), parse_ok(a, "{}")));
    scry_arena_destroy(a);
}

/* The input is copied: the DOM stays valid after the caller's bytes change. */
static void test_json_read_dom_independent_of_input(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    char doc[] = "{\"k\":\"v\\n\",\"n\":12}";
    struct scry_jval *v = parse_ok(a, doc);
    memset(doc, 'x', sizeof doc - 1);
    expect_field_str(v, "k", "v\n");
    assert_int_equal(scry_jval_get(v, "n")->n, 2);
    assert_memory_equal(scry_jval_get(v, "n")->u.s, "12", 2);
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_read_valid_documents),
        cmocka_unit_test(test_json_read_invalid_documents_with_positions),
        cmocka_unit_test(test_json_read_error_with_null_err),
        cmocka_unit_test(test_json_read_int64_exact_from_digits),
        cmocka_unit_test(test_json_read_uint64),
        cmocka_unit_test(test_json_read_double_values_and_specials),
        cmocka_unit_test(test_json_read_double_matches_strtod),
        cmocka_unit_test(test_json_read_string_escapes),
        cmocka_unit_test(test_json_read_invalid_surrogates_become_fffd),
        cmocka_unit_test(test_json_read_invalid_utf8_becomes_fffd_per_byte),
        cmocka_unit_test(test_json_read_depth_limit),
        cmocka_unit_test(test_json_read_max_bytes),
        cmocka_unit_test(test_json_read_lookup_order_and_duplicates),
        cmocka_unit_test(test_json_read_hex_ids),
        cmocka_unit_test(test_json_read_otlp_trace_example),
        cmocka_unit_test(test_json_read_otlp_logs_example),
        cmocka_unit_test(test_json_read_otlp_metrics_example),
        cmocka_unit_test(test_json_read_loki_push_example),
        cmocka_unit_test(test_json_read_round_trip_random_documents),
        cmocka_unit_test(test_json_read_equal_detects_differences),
        cmocka_unit_test(test_json_read_dom_independent_of_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
