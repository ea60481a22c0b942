/* Tests core/arena.c: alignment, big allocations, reset. */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"

static void test_arena_aligns_every_allocation(void **state)
{
    struct scry_arena *a = scry_arena_create(1024);
    for (int i = 1; i < 200; i++) {
        char *p = scry_arena_alloc(a, (size_t)i);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xab, (size_t)i); /* ASan catches overlap or overflow */
    }
    scry_arena_destroy(a);
}

static void test_arena_big_allocation_keeps_small_block(void **state)
{
    struct scry_arena *a = scry_arena_create(1024);
    char *s1 = scry_arena_alloc(a, 16);
    char *big = scry_arena_alloc(a, 100000);
    char *s2 = scry_arena_alloc(a, 16);
    memset(big, 1, 100000);
    /* s2 comes from the same block as s1, right after it. */
    assert_ptr_equal(s2, s1 + 16 + (16 % alignof(max_align_t) ? alignof(max_align_t) - 16 % alignof(max_align_t) : 0));
    assert_true(scry_arena_used(a) >= 100032);
    scry_arena_destroy(a);
}

static void test_arena_strings_and_reset(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    assert_string_equal(scry_arena_strdup(a, "hello"), "hello");
    assert_string_equal(scry_arena_strndup(a, "hello", 2), "he");
    assert_string_equal(scry_arena_printf(a, "%s-%d", "x", 5), "x-5");
    int *z = scry_arena_calloc(a, 10, sizeof(int));
    for (int i = 0; i < 10; i++)
        assert_int_equal(z[i], 0);
    for (int i = 0; i < 1000; i++)
        scry_arena_alloc(a, 1000);
    scry_arena_reset(a);
    assert_int_equal(scry_arena_used(a), 0);
    assert_string_equal(scry_arena_strdup(a, "again"), "again");
    scry_arena_destroy(a);
    scry_arena_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_aligns_every_allocation),
        cmocka_unit_test(test_arena_big_allocation_keeps_small_block),
        cmocka_unit_test(test_arena_strings_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
