/* Shared by the logstore unit tests: the scratch directory, the stream
 * label sets they write and a one-entry append. Include after <cmocka.h>. */
#ifndef SCRY_TEST_LS_FIXTURE_H
#define SCRY_TEST_LS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/appender.h"
#include "core/labels.h"
#include "logstore/logstore.h"

/* Makes a fresh directory /tmp/scry_test_<tag>_XXXXXX in dir, for a
 * cmocka group setup: 0, or -1 when mkdtemp fails. */
static inline int ls_tmpdir_make(char *dir, size_t cap, const char *tag)
{
    snprintf(dir, cap, "/tmp/scry_test_%s_XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and everything below it (group teardown): the shell's status. */
static inline int ls_tmpdir_remove(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* Defines `dir` and the cmocka group setup and teardown around it: a
 * fresh /tmp/scry_test_<tag>_XXXXXX per test binary, removed at the end. */
#define LS_TMPDIR_FIXTURE(tag)                                                                    \
    static char dir[128];                                                                         \
    static int setup(void **state)                                                                \
    {                                                                                             \
        (void)state;                                                                              \
        return ls_tmpdir_make(dir, sizeof dir, tag);                                              \
    }                                                                                             \
    static int teardown(void **state)                                                             \
    {                                                                                             \
        (void)state;                                                                              \
        return ls_tmpdir_remove(dir);                                                             \
    }

/* Stream i's labels in v (2 slots): app cycles over 3 values, level over
 * 2, so i in [0, 6) names 6 distinct streams. */
static inline struct scry_labels stream_labels(int i, struct scry_label *v)
{
    static const char *apps[] = { "nginx", "api", "auth" };
    v[0] = (struct scry_label){ "app", apps[i % 3] };
    v[1] = (struct scry_label){ "level", (i / 3) % 2 ? "warn" : "info" };
    return (struct scry_labels){ v, 2 };
}

/* Appends one entry to stream `stream` in its own transaction; returns the
 * append's result (the commit must succeed). */
static inline int append_one(struct ls_store *st, int stream, int64_t t, const char *line)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    struct scry_label v[2];
    struct scry_labels ls = stream_labels(stream, v);
    struct scry_log_entry e = { .t_ns = t, .line = { line, strlen(line) } };
    int rc = scry_append_log(app, NULL, &ls, &e, NULL);
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    return rc;
}

#endif
