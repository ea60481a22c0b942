/* Tests core/json_read.c: the grammar (valid and invalid documents with Go's
 * messages and exact positions), numbers and their getters, string escapes
 * and UTF-8 handling, and limits. Lookups, the OTLP and Loki documents of
 * the contracts and round trips through the writer are in
 * test_json_read_docs.c; helpers in json_read_fixture.h. */
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
#include "json_read_fixture.h"

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

/* ------------------------------------------- strings against a reference */

/* A byte-at-a-time reference for a JSON string body (the bytes between the
 * quotes): Go's rules as the tests above state them. Returns the
 * decoded length, or -1 where the parser must refuse the string. */
static long ref_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xbf;
    int k;
    if (c >= 0xc2 && c < 0xe0)
        k = 2;
    else if (c >= 0xe0 && c < 0xf0)
        k = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c < 0xf5)
        k = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if ((size_t)k > n || s[1] < lo || s[1] > hi)
        return 0;
    for (int i = 2; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

static int ref_hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static size_t ref_put(char *w, uint32_t cp)
{
    if (cp < 0x80)
        return w[0] = (char)cp, 1;
    if (cp < 0x800)
        return w[0] = (char)(0xc0 | cp >> 6), w[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return w[0] = (char)(0xe0 | cp >> 12), w[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
               w[2] = (char)(0x80 | (cp & 0x3f)), 3;
    w[0] = (char)(0xf0 | cp >> 18), w[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    w[2] = (char)(0x80 | (cp >> 6 & 0x3f)), w[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static long ref_unquote(const char *in, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == '"') /* a raw quote ends the string: the rest is trailing junk */
            return -1;
        if (c >= 0x80) {
            long k = ref_utf8_len((const unsigned char *)in + i, n - i);
            if (k == 0) {
                w += ref_put(out + w, 0xfffd);
                i++;
            } else {
                memcpy(out + w, in + i, (size_t)k);
                w += (size_t)k, i += (size_t)k;
            }
            continue;
        }
        if (c != '\\') {
            out[w++] = (char)c, i++;
            continue;
        }
        if (i + 1 >= n)
            return -1;
        const char *e = strchr("\"\\/bfnrt", in[i + 1]);
        if (e && in[i + 1]) {
            out[w++] = "\"\\/\b\f\n\r\t"[e - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        uint32_t cp, lo;
        if (in[i + 1] != 'u' || i + 6 > n || ref_hex4(in + i + 2, &cp) != 0)
            return -1;
        i += 6;
        if (cp >= 0xd800 && cp < 0xe000) {
            if (cp < 0xdc00 && i + 6 <= n && in[i] == '\\' && in[i + 1] == 'u' &&
                ref_hex4(in + i + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else {
                cp = 0xfffd;
            }
        }
        w += ref_put(out + w, cp);
    }
    return (long)w;
}

/* Random strings of plain runs, every escape, \u of every kind (surrogates
 * paired, lone, reversed, with bad hex), valid and invalid UTF-8, control
 * bytes and a trailing backslash: the parser's single pass (and its fresh
 * buffer for invalid UTF-8) must decode exactly what the reference does,
 * and refuse what it refuses. */
static void test_json_read_strings_match_reference(void **state)
{
    static const char *const pieces[] = {
        "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9",
        "\\u20AC", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\n",
        "\\uzz00", "\\ud800\\u12", "\\x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xff", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\x01", "\\", "0123456789abcdefgh",
        "GET /api/v1/orders HTTP/1.1", " ", "x",
    };
    const size_t n_pieces = sizeof pieces / sizeof pieces[0];
    uint64_t r = 0x243f6a8885a308d3ull;
    char body[512], doc[520], want[2048];
    struct scry_arena *a = scry_arena_create(0);
    int n_ok = 0, n_err = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        int k = 1 + (int)(r % 12);
        for (int j = 0; j < k; j++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            /* Mostly plain text and the escapes a log line has. */
            size_t pi = r % 5 == 0 ? (r >> 8) % n_pieces
                        : (r >> 8) % 3 == 0 ? 0 : n_pieces - 4 + (r >> 12) % 4;
            const char *pc = pieces[pi];
            size_t l = strlen(pc);
            if (n + l >= sizeof body)
                break;
            memcpy(body + n, pc, l);
            n += l;
        }
        doc[0] = '"';
        memcpy(doc + 1, body, n);
        doc[n + 1] = '"';
        long wl = ref_unquote(body, n, want);
        scry_arena_reset(a);
        struct scry_jval *v = NULL;
        struct scry_err err = { 0 };
        int rc = scry_json_parse(a, doc, n + 2, NULL, &v, &err);
        if (wl < 0) {
            if (rc == 0)
                fail_msg("iteration %d: accepted %.*s", iter, (int)n, body);
            n_err++;
            continue;
        }
        if (rc != 0)
            fail_msg("iteration %d: %s for %.*s", iter, err.msg, (int)n, body);
        struct scry_str s;
        assert_int_equal(scry_jval_str(v, &s), 0);
        if (s.len != (size_t)wl || memcmp(s.p, want, s.len) != 0)
            fail_msg("iteration %d: %.*s decoded differently", iter, (int)n, body);
        assert_int_equal(s.p[s.len], 0);
        n_ok++;
    }
    /* Both outcomes were exercised many times. */
    assert_true(n_ok > 5000 && n_err > 1000);
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
        cmocka_unit_test(test_json_read_strings_match_reference),
        cmocka_unit_test(test_json_read_depth_limit),
        cmocka_unit_test(test_json_read_max_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
