/* Tests core/http_body.c and http_params.c on their own, without a server:
 * the form parser's rules and the body decoders' limits (test_http.c drives
 * them through a real server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <snappy-c.h>
#include <zlib.h>

#include "core/arena.h"
#include "core/http.h"

static void test_http_form_parse_rules(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_http_param *v = NULL;
    size_t n = 0, cap = 0;
    struct scry_err err;
    const char *s = "a=1&&b=x+y%20z&a=2&c&=e&d=";
    assert_int_equal(scry_http_form_parse(a, s, strlen(s), &v, &n, &cap, &err), 0);
    assert_int_equal(n, 6);
    assert_string_equal(v[0].key, "a");
    assert_string_equal(v[0].value, "1");
    assert_string_equal(v[1].value, "x y z");
    assert_string_equal(v[2].value, "2");
    assert_string_equal(v[3].key, "c");
    assert_string_equal(v[3].value, "");
    assert_string_equal(v[4].key, "");
    assert_string_equal(v[4].value, "e");
    assert_string_equal(v[5].value, "");
    /* appends to an existing vector, growing it */
    for (int i = 0; i < 100; i++)
        assert_int_equal(scry_http_form_parse(a, "k=v", 3, &v, &n, &cap, &err), 0);
    assert_int_equal(n, 106);
    assert_string_equal(v[105].key, "k");
    assert_int_equal(scry_http_form_parse(a, "a=%G0", 5, &v, &n, &cap, &err), SCRY_EPARSE);
    assert_string_equal(err.msg, "invalid URL escape \"%G0\"");
    assert_int_equal(scry_http_form_parse(a, "a=%", 3, &v, &n, &cap, &err), SCRY_EPARSE);
    scry_arena_destroy(a);
}

static void test_http_body_decode_limits(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err;
    const char *out;
    size_t len;
    assert_int_equal(scry_http_body_decode(a, NULL, "abc", 3, 3, &out, &len, &err), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(scry_http_body_decode(a, "identity", "abc", 3, 2, &out, &len, &err),
                     SCRY_ELIMIT);
    assert_int_equal(scry_http_body_decode(a, "zstd", "abc", 3, 10, &out, &len, &err),
                     SCRY_EINVAL);
    assert_int_equal(scry_http_body_decode(a, "gzip", "", 0, 10, &out, &len, &err), 0);
    assert_int_equal(len, 0);

    /* exact limit passes, one less fails; multi-member gzip is read whole */
    char text[3000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i * 7 % 26);
    unsigned char z[8000];
    size_t zlen = 0;
    for (int m = 0; m < 2; m++) {
        z_stream zs = { 0 };
        deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        zs.next_in = (unsigned char *)text;
        zs.avail_in = sizeof text;
        zs.next_out = z + zlen;
        zs.avail_out = (uInt)(sizeof z - zlen);
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        zlen += zs.total_out;
        deflateEnd(&zs);
    }
    assert_int_equal(scry_http_body_decode(a, "GZIP", (char *)z, zlen, 6000, &out, &len, &err), 0);
    assert_int_equal(len, 6000);
    assert_memory_equal(out, text, sizeof text);
    assert_memory_equal(out + 3000, text, sizeof text);
    assert_int_equal(out[6000], 0);
    assert_int_equal(scry_http_body_decode(a, "gzip", (char *)z, zlen, 5999, &out, &len, &err),
                     SCRY_ELIMIT);
    /* truncated */
    assert_int_equal(scry_http_body_decode(a, "gzip", (char *)z, 20, 6000, &out, &len, &err),
                     SCRY_EPARSE);
    assert_non_null(strstr(err.msg, "gzip"));

    /* raw deflate is accepted for "deflate" */
    z_stream zs = { 0 };
    deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *)text;
    zs.avail_in = sizeof text;
    zs.next_out = z;
    zs.avail_out = sizeof z;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    zlen = zs.total_out;
    deflateEnd(&zs);
    assert_int_equal(scry_http_body_decode(a, "deflate", (char *)z, zlen, 3000, &out, &len, &err), 0);
    assert_int_equal(len, 3000);

    /* snappy: corrupt and exact limit */
    char sn[4000];
    size_t snlen = sizeof sn;
    snappy_compress(text, sizeof text, sn, &snlen);
    assert_int_equal(scry_http_body_decode(a, "snappy", sn, snlen, 3000, &out, &len, &err), 0);
    assert_memory_equal(out, text, 3000);
    assert_int_equal(scry_http_body_decode(a, "snappy", sn, snlen, 2999, &out, &len, &err),
                     SCRY_ELIMIT);
    assert_int_equal(scry_http_body_decode(a, "snappy", sn, snlen / 2, 3000, &out, &len, &err),
                     SCRY_EPARSE);
    assert_non_null(strstr(err.msg, "snappy"));
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_form_parse_rules),
        cmocka_unit_test(test_http_body_decode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
