/* Tests core/crc32c.c: known vectors, hardware and table paths agree,
 * incremental updates equal one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/crc32c.h"

static void test_crc32c_known_vectors(void **state)
{
    assert_int_equal(scry_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(scry_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(scry_crc32c(0, "", 0), 0);
    uint8_t zeros[32] = { 0 }, ones[32];
    memset(ones, 0xff, sizeof ones);
    /* RFC 3720 (iSCSI) B.4 test vectors. */
    assert_int_equal(scry_crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(scry_crc32c(0, ones, 32), 0x62A8AB43u);
    uint8_t inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(scry_crc32c_sw(0, inc, 32), 0x46DD794Eu);
}

static void test_crc32c_paths_agree_at_every_alignment_and_length(void **state)
{
    uint8_t buf[1100];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += (len < 40 ? 1 : 37))
            assert_int_equal(scry_crc32c(0, buf + off, len), scry_crc32c_sw(0, buf + off, len));
}

static void test_crc32c_incremental_equals_one_shot(void **state)
{
    const char *z = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t n = strlen(z);
    uint32_t whole = scry_crc32c(0, z, n);
    for (size_t cut = 0; cut <= n; cut++)
        assert_int_equal(scry_crc32c(scry_crc32c(0, z, cut), z + cut, n - cut), whole);
    assert_int_not_equal(whole, scry_crc32c(0, z, n - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_paths_agree_at_every_alignment_and_length),
        cmocka_unit_test(test_crc32c_incremental_equals_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
