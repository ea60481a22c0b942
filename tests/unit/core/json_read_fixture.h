/* Shared by core/json_read's unit tests (test_json_read.c,
 * test_json_read_docs.c): parse-or-fail and a compact re-serialisation.
 * Include after <cmocka.h>. */
#ifndef SCRY_TEST_JSON_READ_FIXTURE_H
#define SCRY_TEST_JSON_READ_FIXTURE_H

#include <string.h>

#include "core/json.h"
#include "core/json_read.h"

/* Parses doc (NUL-terminated) and returns its compact re-serialisation. */
static inline char *reserialize(struct scry_arena *a, const char *doc)
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

static inline struct scry_jval *parse_ok(struct scry_arena *a, const char *doc)
{
    struct scry_jval *v = NULL;
    struct scry_err err = { 0 };
    int rc = scry_json_parse(a, doc, strlen(doc), NULL, &v, &err);
    if (rc != 0)
        fail_msg("parse %s: %s", doc, err.msg);
    assert_non_null(v);
    return v;
}


#endif
