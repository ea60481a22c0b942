/* The property behind required_tokens: a log query evaluated with the
 * tokens derived from its `|=` literals (index-assisted: the store prunes
 * chunks by its token index) returns exactly the entries of a full scan
 * (select without tokens, filter by substring), on random corpora built to
 * provoke partial-token matches (needle inside zneedle, words joined by
 * `_`, `=`, `.`, case changes) and random literals cut from real lines at
 * random offsets. Several flushes put most of the corpus into segments,
 * where the token index is used. */
#include "logql_fixture.h"
#include "query/promql.h"

static const char *const words[] = { "needle", "zneedle", "needlez", "ab", "abc", "b", "x1",
                                     "NeedLe", "GET", "api", "v1", "Orders", "ID", "42", "e7",
                                     "ok", "timeout", "a" };
static const char *const seps[] = { " ", " ", " ", "_", "=", "-", "/", ".", ", ", ":" };

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

static void random_line(unsigned *seed, char *out, size_t cap)
{
    size_t n = 0;
    int k = 1 + (int)(rnd(seed) % 8);
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        const char *w = words[rnd(seed) % (sizeof words / sizeof words[0])];
        const char *s = i ? seps[rnd(seed) % (sizeof seps / sizeof seps[0])] : "";
        n += (size_t)snprintf(out + n, cap - n, "%s%s", s, w);
    }
}

#define N_LINES 3000

static char corpus[N_LINES][160];

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    unsigned seed = 7;
    static const char *const streams[] = { "app=a", "app=b", "app=c", "app=d,env=x" };
    struct scry_err err = { 0 };
    for (int i = 0; i < N_LINES; i++) {
        random_line(&seed, corpus[i], sizeof corpus[i]);
        fx_append(streams[i % 4], (int64_t)(i + 1) * SEC, corpus[i], NULL);
        /* several segments, and the last part stays in the head */
        if (i % 700 == 699 && ls_flush(fx_st, &err))
            fail_msg("flush: %s", err.msg);
    }
    return 0;
}

struct hit {
    int64_t t;
    const char *line;
};

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* The reference: every entry (no hints but the time range), filtered by
 * plain substring search for each literal. */
static size_t full_scan(char lits[][64], int n_lits, struct hit *out, struct scry_arena *a)
{
    struct scry_querier *q;
    struct scry_queryable *st = ls_queryable(fx_st);
    assert_int_equal(st->querier(st, NULL, 0, INT64_MAX, &q, NULL), 0);
    struct scry_matcher m;
    assert_int_equal(scry_matcher_init(&m, SCRY_MATCH_RE, "app", ".+", NULL), 0);
    struct scry_select_hints h = { .mint = 0, .maxt = INT64_MAX };
    struct scry_stream_set *ss;
    assert_int_equal(q->ops->select_streams(q, &m, 1, &h, &ss, NULL), 0);
    size_t n = 0;
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        struct scry_log_entry e;
        while (it->ops->next(it)) {
            it->ops->at(it, &e);
            bool ok = true;
            for (int k = 0; k < n_lits && ok; k++)
                ok = memmem(e.line.p, e.line.len, lits[k], strlen(lits[k])) != NULL;
            if (ok)
                out[n++] = (struct hit){ e.t_ns, scry_arena_strndup(a, e.line.p, e.line.len) };
        }
        assert_int_equal(it->ops->err(it, NULL), 0);
    }
    assert_int_equal(ss->ops->err(ss, NULL), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    scry_matcher_fini(&m);
    qsort(out, n, sizeof *out, cmp_hit);
    return n;
}

static void test_logql_tokens_index_equals_scan(void **state)
{
    (void)state;
    unsigned seed = 99;
    static struct hit want[N_LINES], got[N_LINES];
    int with_tokens = 0, nonempty = 0;
    for (int round = 0; round < 300; round++) {
        struct scry_arena *a = scry_arena_create(0);
        char lits[2][64];
        int n_lits = 1 + (round % 3 == 0);
        for (int k = 0; k < n_lits; k++) {
            /* a random cut of a random line: may start or end mid-word */
            const char *src = corpus[rnd(&seed) % N_LINES];
            size_t len = strlen(src), s = rnd(&seed) % len, l = 1 + rnd(&seed) % (len - s);
            if (l > 40)
                l = 40;
            memcpy(lits[k], src + s, l);
            lits[k][l] = 0;
        }
        struct scry_buf q;
        scry_buf_init(&q);
        scry_buf_puts(&q, "{app=~\".+\"}");
        for (int k = 0; k < n_lits; k++) {
            scry_buf_puts(&q, " |= ");
            pql_quote(lits[k], strlen(lits[k]), &q);
        }
        struct lql_expr *e;
        struct scry_err err = { 0 };
        if (lql_parse(a, q.p, q.len, &e, &err))
            fail_msg("%s: %s", q.p, err.msg);
        struct scry_str *toks;
        size_t n_toks;
        lql_required_tokens(&e->u.log, a, &toks, &n_toks);
        with_tokens += n_toks > 0;
        struct lql_result r;
        struct lql_opts o = { 0 };
        assert_int_equal(lql_eval_logs(&o, ls_queryable(fx_st), e, 0, INT64_MAX, 1000000, false,
                                       a, &r, &err),
                         0);
        size_t n_got = 0;
        for (size_t i = 0; i < r.n_streams; i++)
            for (size_t k = 0; k < r.streams[i].n_entries; k++)
                got[n_got++] = (struct hit){ r.streams[i].entries[k].t_ns,
                                             r.streams[i].entries[k].line.p };
        qsort(got, n_got, sizeof *got, cmp_hit);
        size_t n_want = full_scan(lits, n_lits, want, a);
        nonempty += n_want > 0;
        if (n_got != n_want)
            fail_msg("%s (tokens %zu): %zu entries, full scan %zu", q.p, n_toks, n_got, n_want);
        for (size_t i = 0; i < n_got; i++) {
            assert_int_equal(got[i].t, want[i].t);
            assert_string_equal(got[i].line, want[i].line);
        }
        lql_expr_fini(e);
        scry_buf_fini(&q);
        scry_arena_destroy(a);
    }
    /* the property was exercised: many queries pruned, all had answers */
    assert_true(with_tokens > 50);
    assert_true(nonempty > 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_tokens_index_equals_scan),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
