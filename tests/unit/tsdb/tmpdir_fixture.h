/* tmpdir_fixture.h — the scratch directory of the tsdb tests that write
 * blocks (block_meta, compact, tombstones). Include after <cmocka.h>. */
#ifndef SCRY_TESTS_TSDB_TMPDIR_FIXTURE_H
#define SCRY_TESTS_TSDB_TMPDIR_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Defines `root` and the cmocka group setup and teardown around it: a
 * fresh /tmp/scry_test_<tag>_XXXXXX per test binary, removed (with all
 * below it) at the end. */
#define TSDB_TMPDIR_FIXTURE(tag)                                                                  \
    static char root[64];                                                                         \
    static int setup(void **state)                                                                \
    {                                                                                             \
        (void)state;                                                                              \
        snprintf(root, sizeof root, "/tmp/scry_test_%s_XXXXXX", tag);                             \
        return mkdtemp(root) ? 0 : -1;                                                            \
    }                                                                                             \
    static int teardown(void **state)                                                             \
    {                                                                                             \
        (void)state;                                                                              \
        char cmd[128];                                                                            \
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);                                             \
        return system(cmd);                                                                       \
    }

#endif
