/* Tests core/sha1.c: the RFC 3174 §7.3 test vectors (including the
 * million-'a' and the repeated 64-byte ones), incremental updates at every
 * split equal one shot, and padding at the 55/56/64-byte block edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/sha1.h"

static void hex(const uint8_t d[SCRY_SHA1_LEN], char out[41])
{
    for (int i = 0; i < SCRY_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* SHA-1 of text repeated n times, fed in one update per repetition. */
static void sha1_rep(const char *text, size_t n, char out[41])
{
    struct scry_sha1 s;
    uint8_t d[SCRY_SHA1_LEN];
    scry_sha1_init(&s);
    for (size_t i = 0; i < n; i++)
        scry_sha1_update(&s, text, strlen(text));
    scry_sha1_final(&s, d);
    hex(d, out);
}

static void test_sha1_rfc3174_vectors(void **state)
{
    (void)state;
    char h[41];
    sha1_rep("abc", 1, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    sha1_rep("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    sha1_rep("a", 1000000, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    sha1_rep("0123456701234567012345670123456701234567012345670123456701234567", 10, h);
    assert_string_equal(h, "dea356a2cddd90c7a7ecedc5ebb563934f460452");
    sha1_rep("", 1, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_sha1_incremental_equals_one_shot(void **state)
{
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    /* every length across the padding edges, every split point */
    for (size_t len = 0; len <= 130; len++) {
        uint8_t one[SCRY_SHA1_LEN];
        scry_sha1(msg, len, one);
        for (size_t cut = 0; cut <= len; cut++) {
            struct scry_sha1 s;
            uint8_t two[SCRY_SHA1_LEN];
            scry_sha1_init(&s);
            scry_sha1_update(&s, msg, cut);
            scry_sha1_update(&s, msg + cut, len - cut);
            scry_sha1_final(&s, two);
            assert_memory_equal(one, two, SCRY_SHA1_LEN);
        }
    }
    /* lengths 55, 56 and 64 pad differently and must all differ */
    uint8_t a[SCRY_SHA1_LEN], b[SCRY_SHA1_LEN], c[SCRY_SHA1_LEN];
    scry_sha1(msg, 55, a);
    scry_sha1(msg, 56, b);
    scry_sha1(msg, 64, c);
    assert_memory_not_equal(a, b, SCRY_SHA1_LEN);
    assert_memory_not_equal(b, c, SCRY_SHA1_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_rfc3174_vectors),
        cmocka_unit_test(test_sha1_incremental_equals_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
