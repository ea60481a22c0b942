/* Tests core/json_read.c on whole documents: lookups (order, duplicates,
 * hex ids), the OTLP and Loki documents of the contracts, and round trips
 * of random documents through the writer in core/json.h. Helpers in
 * json_read_fixture.h. */
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
#include "tests/unit/otlp_contract.h"
#include "tests/unit/xorshift.h"

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
    struct scry_jval *root = parse_ok(a, otlp_contract_metrics);
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

static uint64_t rnd(struct gen *g) { return test_xorshift(&g->rng); }

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
