/* Tests tsdb/index_postings.c and the index round trip: set operations on
 * sorted u32 lists against a bitmap model, matcher semantics (absent label
 * = "", anchored regexes) on a written index, groups of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "blockgen.h"
#include "tsdb/block_internal.h"

#define MINT 1700000000000LL
#define MAXT (MINT + 3600 * 1000LL)

static void rand_list(struct tsdb__plist *l, uint32_t universe, uint32_t density)
{
    l->n = 0;
    for (uint32_t i = 0; i < universe; i++)
        if (bg_below(100) < density) {
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 16;
                l->v = realloc(l->v, l->cap * sizeof *l->v);
            }
            l->v[l->n++] = i;
        }
}

static bool has(const struct tsdb__plist *l, uint32_t x)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == x)
            return true;
    return false;
}

static void test_index_postings_ops(void **state)
{
    (void)state;
    bg_state = 5;
    struct tsdb__plist a = {0}, b = {0}, o = {0};
    size_t total = 0;
    for (int iter = 0; iter < 300; iter++) {
        uint32_t u = 1 + (uint32_t)bg_below(3000);
        rand_list(&a, u, (uint32_t)bg_below(101));
        rand_list(&b, u, iter % 3 ? (uint32_t)bg_below(101) : 1); /* skewed: galloping */
        tsdb__plist_intersect(&a, &b, &o);
        for (uint32_t x = 0; x < u; x++)
            assert_true(has(&o, x) == (has(&a, x) && has(&b, x)));
        for (size_t i = 1; i < o.n; i++)
            assert_true(o.v[i - 1] < o.v[i]);
        total += o.n;
        tsdb__plist_union(&a, &b, &o);
        assert_true(o.n >= a.n && o.n >= b.n);
        for (uint32_t x = 0; x < u; x += 7)
            assert_true(has(&o, x) == (has(&a, x) || has(&b, x)));
        tsdb__plist_subtract(&a, &b, &o);
        for (uint32_t x = 0; x < u; x += 7)
            assert_true(has(&o, x) == (has(&a, x) && !has(&b, x)));
    }
    assert_true(total > 1000);
    /* sort_unique */
    struct tsdb__plist l = {0};
    uint32_t v[] = {5, 1, 5, 3, 1, 9};
    l.v = malloc(sizeof v);
    memcpy(l.v, v, sizeof v);
    l.n = l.cap = 6;
    tsdb__plist_sort_unique(&l);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.v[0], 1);
    assert_int_equal(l.v[3], 9);
    tsdb__plist_fini(&l);
    tsdb__plist_fini(&a);
    tsdb__plist_fini(&b);
    tsdb__plist_fini(&o);
}

/* The series numbers selected by the index against a scan of the labels. */
static void test_index_matchers_and_groups(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/scry_test_index_XXXXXX";
    char *root = mkdtemp(tmpl);
    assert_non_null(root);
    uint32_t groups[] = {1, 2, 3, 64, 4096};
    for (size_t gi = 0; gi < 5; gi++) {
        struct bg_set set;
        bg_make(&set, 100 + gi, 300, MINT, MAXT, 3, 120);
        struct tsdb_block_write_opts o = {.group_size = groups[gi], .no_compress = gi == 2};
        char id[32], dir[600];
        struct scry_err err;
        assert_int_equal(tsdb_block_write(root, &bg_source, &set, MINT, MAXT, &o, id, NULL, &err), 0);
        snprintf(dir, sizeof dir, "%s/%s", root, id);
        struct tsdb_block *b;
        assert_int_equal(tsdb_block_open(&b, dir, &err), 0);
        assert_int_equal(b->group_size, groups[gi]);
        for (int iter = 0; iter < 200; iter++) {
            struct scry_matcher ms[3];
            size_t n_ms = bg_below(4);
            for (size_t k = 0; k < n_ms; k++)
                bg_matcher(&ms[k]);
            struct tsdb__plist got = {0};
            assert_int_equal(tsdb__select_postings(b, ms, n_ms, &got, &err), 0);
            size_t j = 0;
            for (size_t i = 0; i < set.n; i++) {
                struct scry_labels ls = {set.s[i].labs, set.s[i].n_labs};
                bool ok = true;
                for (size_t k = 0; k < n_ms && ok; k++)
                    ok = scry_matcher_matches_labels(&ms[k], &ls);
                if (ok) {
                    assert_true(j < got.n);
                    assert_int_equal(got.v[j], i);
                    j++;
                }
            }
            assert_int_equal(j, got.n);
            tsdb__plist_fini(&got);
            for (size_t k = 0; k < n_ms; k++)
                scry_matcher_fini(&ms[k]);
        }
        /* Every series' labels come back from its group. */
        struct tsdb__group g;
        tsdb__group_init(&g);
        for (size_t i = 0; i < set.n; i++) {
            assert_int_equal(tsdb__group_load(b, i / b->group_size, &g, &err), 0);
            const struct tsdb__gseries *gs = &g.s[i % b->group_size];
            struct scry_labels ls = {g.labels + gs->lab_off, gs->n_labels};
            struct scry_labels want = {set.s[i].labs, set.s[i].n_labs};
            assert_true(scry_labels_equal(&ls, &want));
        }
        tsdb__group_fini(&g);
        tsdb_block_close(b);
        bg_free(&set);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* Specific Prometheus semantics on a tiny index. */
static void test_index_empty_value_semantics(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/scry_test_index_XXXXXX";
    char *root = mkdtemp(tmpl);
    struct bg_set set = {0};
    set.s = scry_calloc(3, sizeof *set.s);
    struct scry_label l0[] = {{"__name__", "up"}, {"job", "a"}};
    struct scry_label l1[] = {{"__name__", "up"}, {"job", "b"}, {"x", "1"}};
    struct scry_label l2[] = {{"__name__", "up"}};
    struct scry_label *ls[] = {l0, l2, l1}; /* label order: {up} < {up,job=a} ... sort below */
    size_t ns[] = {2, 1, 3};
    for (int i = 0; i < 3; i++) {
        memcpy(set.s[i].labs, ls[i], ns[i] * sizeof *ls[i]);
        set.s[i].n_labs = ns[i];
        bg_samples(&set.s[i], MINT, MAXT, 5, 120);
    }
    set.n = 3;
    qsort(set.s, 3, sizeof *set.s, bg_cmp);
    char id[32], dir[600];
    struct scry_err err;
    assert_int_equal(tsdb_block_write(root, &bg_source, &set, MINT, MAXT, NULL, id, NULL, &err), 0);
    snprintf(dir, sizeof dir, "%s/%s", root, id);
    struct tsdb_block *b;
    assert_int_equal(tsdb_block_open(&b, dir, &err), 0);
    struct { int type; const char *name, *value; size_t want; } cases[] = {
        {SCRY_MATCH_EQ, "job", "", 1},     /* series without job */
        {SCRY_MATCH_NEQ, "job", "", 2},    /* series with job */
        {SCRY_MATCH_NEQ, "job", "a", 2},   /* absent counts as "" != "a" */
        {SCRY_MATCH_RE, "job", "a|", 2},
        {SCRY_MATCH_RE, "job", "", 1},
        {SCRY_MATCH_NRE, "job", "b", 2},
        {SCRY_MATCH_RE, "__name__", "u", 0}, /* anchored */
        {SCRY_MATCH_RE, "__name__", "u.", 3},
        {SCRY_MATCH_EQ, "nope", "", 3},
        {SCRY_MATCH_NRE, "nope", ".*", 0},
        {SCRY_MATCH_EQ, "x", "1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct scry_matcher m;
        assert_int_equal(scry_matcher_init(&m, cases[i].type, cases[i].name, cases[i].value, &err), 0);
        struct tsdb__plist got = {0};
        assert_int_equal(tsdb__select_postings(b, &m, 1, &got, &err), 0);
        if (got.n != cases[i].want)
            fail_msg("case %zu: %s%s\"%s\" selects %zu, want %zu", i, cases[i].name,
                     scry_match_type_str(m.type), cases[i].value, got.n, cases[i].want);
        tsdb__plist_fini(&got);
        scry_matcher_fini(&m);
    }
    tsdb_block_close(b);
    bg_free(&set);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_postings_ops),
        cmocka_unit_test(test_index_matchers_and_groups),
        cmocka_unit_test(test_index_empty_value_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
