/* fuzz_json_read.c — scry_json_parse on arbitrary bytes.
 *
 * Parses the input; when it parses, writes the DOM back with the writer
 * (core/json.h), parses that again and requires the two DOMs to be equal
 * and the second serialisation to equal the first (the writer's output is
 * a fixed point). Also exercises the getters on every value, which must not
 * crash whatever the value. max_depth stays below the writer's
 * SCRY_JSON_MAX_DEPTH, which it asserts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/json_read.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static void poke(const struct scry_jval *v)
{
    int64_t i;
    uint64_t u;
    double d;
    uint8_t id[16];
    struct scry_str s;
    bool b;
    (void)scry_jval_int64(v, &i);
    (void)scry_jval_uint64(v, &u);
    (void)scry_jval_double(v, &d);
    (void)scry_jval_hex(v, id, 16);
    (void)scry_jval_bool(v, &b);
    if (scry_jval_str(v, &s) == 0)
        check(s.p[s.len] == 0);
    if (v->type == SCRY_JSON_ARRAY)
        for (size_t k = 0; k < v->n; k++)
            poke(scry_jval_at(v, k));
    if (v->type == SCRY_JSON_OBJECT)
        for (size_t k = 0; k < v->n; k++) {
            const struct scry_jmember *m = &v->u.obj[k];
            check(m->key.p[m->key.len] == 0);
            /* The lookup finds this key, possibly a later duplicate. */
            const struct scry_jval *g = scry_jval_getn(v, m->key.p, m->key.len);
            check(g != NULL && g >= &m->val);
            poke(&m->val);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_json_parse_opts opts = { .max_depth = SCRY_JSON_MAX_DEPTH - 2 };
    struct scry_jval *v1 = NULL, *v2 = NULL;
    struct scry_err err = { 0 };
    int rc = scry_json_parse(a, (const char *)data, size, &opts, &v1, &err);
    if (rc != 0) {
        check(rc == SCRY_EPARSE || rc == SCRY_ELIMIT);
        check(err.offset <= size && err.line >= 1 && err.col >= 1 && err.msg[0]);
        scry_arena_destroy(a);
        return 0;
    }
    poke(v1);
    struct scry_buf b1 = { 0 }, b2 = { 0 };
    struct scry_json j;
    scry_json_init(&j, &b1);
    scry_jval_write(&j, v1);
    rc = scry_json_parse(a, b1.p, b1.len, &opts, &v2, &err);
    check(rc == 0);
    check(scry_jval_equal(v1, v2));
    scry_json_init(&j, &b2);
    scry_jval_write(&j, v2);
    check(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
    scry_buf_fini(&b1);
    scry_buf_fini(&b2);
    scry_arena_destroy(a);
    return 0;
}
