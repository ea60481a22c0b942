/* Tests core/labels.c: the stable hash (pinned by reference XXH64 vectors),
 * ordering, lookup, validation, formatting and the builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/labels.h"

#define LS(...)                                                                             \
    ((struct scry_labels){ (const struct scry_label[]){ __VA_ARGS__ },                      \
                           sizeof((const struct scry_label[]){ __VA_ARGS__ }) /             \
                               sizeof(struct scry_label) })

/* Vectors from the reference implementation (libxxhash 0.8.1, XXH64). The
 * hash may be stored on disk: if one of these changes, stored data breaks. */
static void test_labels_xxh64_matches_reference(void **state)
{
    assert_true(scry_xxh64("", 0, 0) == 0xEF46DB3751D8E999ULL);
    assert_true(scry_xxh64("abc", 3, 0) == 0x44BC2CF5AD770999ULL);
    assert_true(scry_xxh64("abc", 3, 1) == 0xBEA9CA8199328908ULL);
    const char *s = "Nobody inspects the spammish repetition"; /* > 32 bytes: stripes */
    assert_true(scry_xxh64(s, strlen(s), 0) == 0xFBCEA83C8A378BF1ULL);
    unsigned char seq[100];
    for (int i = 0; i < 100; i++)
        seq[i] = (unsigned char)i;
    assert_true(scry_xxh64(seq, sizeof seq, 0) == 0x6AC1E58032166597ULL);
}

static void test_labels_hash_is_stable_and_separated(void **state)
{
    struct scry_labels up = LS({ "__name__", "up" }, { "instance", "localhost:9090" },
                               { "job", "prometheus" });
    /* xxh64("__name__\xffup\xffinstance\xfflocalhost:9090\xffjob\xffprometheus\xff") */
    assert_true(scry_labels_hash(&up) == 0xF28C8AFCD224E55FULL);

    struct scry_labels a = LS({ "a", "bc" }), b = LS({ "ab", "c" });
    assert_true(scry_labels_hash(&a) == 0x25743FBA3CC46906ULL);
    assert_true(scry_labels_hash(&b) == 0x479308967D489BA5ULL);
    assert_true(scry_labels_hash(&a) != scry_labels_hash(&b));

    struct scry_labels empty = { NULL, 0 };
    assert_true(scry_labels_hash(&empty) == 0xEF46DB3751D8E999ULL);
}

static void test_labels_cmp_orders_like_prometheus(void **state)
{
    struct scry_labels a = LS({ "a", "1" }, { "b", "2" });
    struct scry_labels a2 = LS({ "a", "1" }, { "b", "2" });
    struct scry_labels b = LS({ "a", "1" }, { "c", "0" });
    struct scry_labels c = LS({ "a", "2" });
    struct scry_labels d = LS({ "a", "1" });
    assert_int_equal(scry_labels_cmp(&a, &a2), 0);
    assert_true(scry_labels_equal(&a, &a2));
    assert_int_equal(scry_labels_cmp(&a, &b), -1); /* name b < c decides first */
    assert_int_equal(scry_labels_cmp(&b, &a), 1);
    assert_int_equal(scry_labels_cmp(&a, &c), -1); /* value 1 < 2 */
    assert_int_equal(scry_labels_cmp(&d, &a), -1); /* prefix sorts first */
    assert_int_equal(scry_labels_cmp(&a, &d), 1);
    assert_false(scry_labels_equal(&a, &d));
}

static void test_labels_get_binary_search(void **state)
{
    struct scry_labels ls = LS({ "a", "1" }, { "c", "3" }, { "e", "5" }, { "g", "7" },
                               { "i", "9" });
    assert_string_equal(scry_labels_get(&ls, "a"), "1");
    assert_string_equal(scry_labels_get(&ls, "e"), "5");
    assert_string_equal(scry_labels_get(&ls, "i"), "9");
    assert_null(scry_labels_get(&ls, "b"));
    assert_null(scry_labels_get(&ls, "z"));
    assert_null(scry_labels_get(&ls, ""));
}

static void expect_invalid(struct scry_labels ls, const char *needle)
{
    struct scry_err err = { 0 };
    assert_int_equal(scry_labels_validate(&ls, &err), SCRY_EINVAL);
    assert_int_equal(err.code, SCRY_EINVAL);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" does not name \"%s\"", err.msg, needle);
}

static void test_labels_validate_rejects_bad_sets(void **state)
{
    struct scry_err err = { 0 };
    struct scry_labels ok = LS({ "__name__", "http_requests:rate5m" }, { "code", "200" },
                               { "path", "/caf\xc3\xa9" });
    assert_int_equal(scry_labels_validate(&ok, &err), 0);

    expect_invalid(LS({ "b", "1" }, { "a", "2" }), "\"a\" out of order");
    expect_invalid(LS({ "a", "1" }, { "a", "2" }), "duplicate label name \"a\"");
    expect_invalid(LS({ "1a", "x" }), "invalid label name \"1a\"");
    expect_invalid(LS({ "a-b", "x" }), "a-b");
    expect_invalid(LS({ "job", "" }), "\"job\" has an empty value");
    expect_invalid(LS({ "job", "\xc0\xaf" }), "\"job\": value is not valid UTF-8");
    expect_invalid(LS({ "__name__", "1up" }), "invalid metric name \"1up\"");
    /* a metric name may contain ':', a label name may not */
    expect_invalid(LS({ "a:b", "x" }), "a:b");
}

static void test_labels_name_rules(void **state)
{
    assert_true(scry_label_name_valid("_", 1));
    assert_true(scry_label_name_valid("a_B9", 4));
    assert_false(scry_label_name_valid("", 0));
    assert_false(scry_label_name_valid("9a", 2));
    assert_false(scry_label_name_valid("a:b", 3));
    assert_true(scry_metric_name_valid(":a:b_1", 6));
    assert_false(scry_metric_name_valid("a.b", 3));
    assert_false(scry_metric_name_valid("", 0));
}

static void test_labels_utf8_rules(void **state)
{
    assert_true(scry_utf8_valid("", 0));
    assert_true(scry_utf8_valid("plain", 5));
    assert_true(scry_utf8_valid("\xc3\xa9", 2));           /* é */
    assert_true(scry_utf8_valid("\xe2\x82\xac", 3));       /* € */
    assert_true(scry_utf8_valid("\xf0\x9f\x98\x80", 4));   /* U+1F600 */
    assert_true(scry_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
    assert_true(scry_utf8_valid("\xed\x9f\xbf", 3));       /* U+D7FF */
    assert_false(scry_utf8_valid("\xc0\x80", 2));          /* overlong NUL */
    assert_false(scry_utf8_valid("\xc1\xbf", 2));          /* overlong */
    assert_false(scry_utf8_valid("\xe0\x9f\xbf", 3));      /* overlong 3-byte */
    assert_false(scry_utf8_valid("\xf0\x8f\xbf\xbf", 4));  /* overlong 4-byte */
    assert_false(scry_utf8_valid("\xed\xa0\x80", 3));      /* surrogate U+D800 */
    assert_false(scry_utf8_valid("\xed\xbf\xbf", 3));      /* surrogate U+DFFF */
    assert_false(scry_utf8_valid("\xf4\x90\x80\x80", 4));  /* U+110000 */
    assert_false(scry_utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(scry_utf8_valid("\x80", 1));              /* lone continuation */
    assert_false(scry_utf8_valid("\xe2\x82", 2));          /* truncated */
    assert_false(scry_utf8_valid("\xe2\x28\xa1", 3));      /* bad continuation */
    assert_false(scry_utf8_valid("\xff", 1));
}

static void expect_format(struct scry_labels ls, const char *want)
{
    struct scry_buf b = { 0 };
    scry_labels_format(&ls, &b);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

static void test_labels_format_like_prometheus(void **state)
{
    expect_format(LS({ "__name__", "up" }, { "instance", "x" }, { "job", "y" }),
                  "up{instance=\"x\", job=\"y\"}");
    expect_format(LS({ "__name__", "up" }), "up");
    expect_format((struct scry_labels){ NULL, 0 }, "{}");
    expect_format(LS({ "a", "q\"b\\s\nn\tt" }), "{a=\"q\\\"b\\\\s\\nn\\tt\"}");
    expect_format(LS({ "a", "caf\xc3\xa9\x01\xff" }), "{a=\"caf\xc3\xa9\\x01\\xff\"}");
}

static void test_labels_builder_set_del_override(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);

    char name[8], value[8];
    strcpy(name, "job");
    strcpy(value, "node");
    scry_labels_builder_set(&b, name, value);
    strcpy(name, "zzz"); /* the builder copied both strings */
    strcpy(value, "xxxx");
    scry_labels_builder_set(&b, "__name__", "up");
    scry_labels_builder_set(&b, "instance", "h:1");
    scry_labels_builder_set(&b, "job", "api");      /* override */
    scry_labels_builder_set(&b, "drop", "me");
    scry_labels_builder_del(&b, "drop");
    scry_labels_builder_set(&b, "instance", "");    /* empty value deletes */
    scry_labels_builder_del(&b, "absent");
    struct scry_labels ls = scry_labels_builder_labels(&b);
    assert_int_equal(ls.n, 2);
    assert_string_equal(ls.v[0].name, "__name__");
    assert_string_equal(ls.v[1].name, "job");
    assert_string_equal(ls.v[1].value, "api");
    assert_int_equal(scry_labels_validate(&ls, NULL), 0);

    /* Reuse: the earlier set is not disturbed. */
    scry_labels_builder_reset(&b, &ls);
    scry_labels_builder_set(&b, "a", "1");
    scry_labels_builder_del(&b, "job");
    struct scry_labels ls2 = scry_labels_builder_labels(&b);
    assert_int_equal(ls2.n, 2);
    assert_string_equal(ls2.v[0].name, "__name__");
    assert_string_equal(ls2.v[1].name, "a");
    assert_int_equal(ls.n, 2);
    assert_string_equal(ls.v[1].value, "api");

    scry_labels_builder_reset(&b, NULL);
    assert_int_equal(scry_labels_builder_labels(&b).n, 0);
    scry_arena_destroy(a);
}

static void test_labels_builder_sorts_many(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    char name[16];
    for (int i = 99; i >= 0; i--) { /* reverse order, more than the initial capacity */
        snprintf(name, sizeof name, "l%03d", (i * 37) % 100);
        scry_labels_builder_set(&b, name, "v");
    }
    struct scry_labels ls = scry_labels_builder_labels(&b);
    assert_int_equal(ls.n, 100);
    assert_int_equal(scry_labels_validate(&ls, NULL), 0);
    assert_string_equal(ls.v[0].name, "l000");
    assert_string_equal(ls.v[99].name, "l099");
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_xxh64_matches_reference),
        cmocka_unit_test(test_labels_hash_is_stable_and_separated),
        cmocka_unit_test(test_labels_cmp_orders_like_prometheus),
        cmocka_unit_test(test_labels_get_binary_search),
        cmocka_unit_test(test_labels_validate_rejects_bad_sets),
        cmocka_unit_test(test_labels_name_rules),
        cmocka_unit_test(test_labels_utf8_rules),
        cmocka_unit_test(test_labels_format_like_prometheus),
        cmocka_unit_test(test_labels_builder_set_del_override),
        cmocka_unit_test(test_labels_builder_sorts_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
