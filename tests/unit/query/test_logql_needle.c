/* `sum(count_over_time({...} |= "needle" [range]))` at one instant may
 * take whole chunks' counts from the log store's token index
 * (scry_select_hints.count_only, logstore/README.md "Counting from the
 * index"). It must answer exactly as the general path, forced here by a
 * second filter that never drops a line: for needles inside longer words,
 * in upper case, twice in a line, in key=value values, with windows whose
 * edges cut chunks, over two segments and the head, also as `rate`, and
 * with entries carrying structured metadata. The counted path must be
 * taken (fewer lines processed) for a needle that only occurs as a word.
 * Backward log queries of one `|=` literal, which may skip chunks older
 * than enough counted matches, return the general path's entries. */
#include "logql_fixture.h"

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

#define N_LINES 3000
#define T0 (1000 * SEC)
#define STEP (30 * SEC) /* a chunk per stream and hour: 120 entries */

static const char *const words[] = {
    "needle", "needles", "xneedle", "NEEDLE", "Needle", "needle needle", "solo", "SOLO",
    "Solo", "k=needle", "path=/x/needle/y", "msg=\"solo hay\"", "hay", "stack", "haystack",
    "12345ms", "beef", "cafe1234", "GET", "level=info",
};

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    unsigned seed = 7;
    static const char *const streams[] = { "app=a,host=x", "app=a,host=y", "app=b", "app=c" };
    struct scry_err err = { 0 };
    for (int i = 0; i < N_LINES; i++) {
        char line[400];
        size_t n = 0;
        int k = 1 + (int)(rnd(&seed) % 6);
        for (int j = 0; j < k; j++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", j ? " " : "",
                                  words[rnd(&seed) % (sizeof words / sizeof *words)]);
        unsigned r = rnd(&seed);
        fx_append(streams[i % 4], T0 + (int64_t)i * STEP, line, r % 13 == 0 ? "trace=t1" : NULL);
        if ((i == 1000 || i == 2000) && ls_flush(fx_st, &err))
            fail_msg("flush: %s", err.msg);
    }
    return 0;
}

static uint64_t lines;

static char *metric(const char *q, int64_t t)
{
    static char out[4096];
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(a, q, strlen(q), &e, &err))
        fail_msg("parse %s: %s", q, err.msg);
    struct lql_result r;
    struct lql_opts o = { 0 };
    if (lql_eval_metric(&o, ls_queryable(fx_st), e, t, t, SEC, true, a, &r, &err))
        fail_msg("eval %s: %s", q, err.msg);
    struct scry_buf b;
    scry_buf_init(&b);
    for (size_t i = 0; i < r.n_series; i++) {
        fx_labels_text(&r.series[i].labels, &b);
        for (size_t k = 0; k < r.series[i].n_points; k++)
            scry_buf_printf(&b, " %.17g", r.series[i].points[k].v);
        scry_buf_putc(&b, '\n');
    }
    lines = r.lines_processed;
    snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    scry_buf_fini(&b);
    lql_expr_fini(e);
    scry_arena_destroy(a);
    return out;
}

static void test_needle_count_equals_general(void **state)
{
    (void)state;
    static const char *const needles[] = { "needle", "solo", "hay", "stack", "beef", "ms",
                                           "eedl", "Needle", "SOLO", "zzz", "k=needle", "info" };
    static const char *const ranges[] = { "10m", "1h", "3h", "17m", "5h" };
    static const char *const ops[] = { "count_over_time", "rate" };
    unsigned seed = 3;
    char q1[300], q2[300], a1[4096];
    int nonempty = 0;
    for (int round = 0; round < 150; round++) {
        const char *nd = needles[rnd(&seed) % (sizeof needles / sizeof *needles)];
        const char *rg = ranges[rnd(&seed) % 5], *op = ops[rnd(&seed) % 2];
        int64_t t = T0 + (int64_t)(rnd(&seed) % (N_LINES + 400)) * STEP + rnd(&seed) % STEP;
        snprintf(q1, sizeof q1, "sum(%s({app=~\".+\"} |= \"%s\" [%s]))", op, nd, rg);
        snprintf(q2, sizeof q2, "sum(%s({app=~\".+\"} |= \"%s\" != \"qq never\" [%s]))", op, nd,
                 rg);
        snprintf(a1, sizeof a1, "%s", metric(q1, t));
        const char *a2 = metric(q2, t);
        if (strcmp(a1, a2))
            fail_msg("%s at %lld:\n%s\ngeneral:\n%s", q1, (long long)t, a1, a2);
        nonempty += a1[0] != 0;
    }
    assert_true(nonempty > 50);
    /* the whole corpus: every segment chunk lies in the window */
    int64_t end = T0 + (int64_t)N_LINES * STEP;
    char *a = metric("sum(count_over_time({app=~\".+\"} |= \"solo\" [30h]))", end);
    snprintf(a1, sizeof a1, "%s", a);
    uint64_t fast = lines;
    const char *g = metric("sum(count_over_time({app=~\".+\"} |= \"solo\" != \"qq\" [30h]))", end);
    assert_string_equal(a1, g);
    assert_true(fast < lines / 2);
}

/* A backward log query of one `|=` literal may skip chunks older than
 * enough counted matches (scry_select_hints.newest_limit): same entries. */
static void test_needle_newest_equals_general(void **state)
{
    (void)state;
    static const char *const needles[] = { "needle", "solo", "hay", "beef", "Needle", "zzz",
                                           "stack" };
    static const uint64_t limits[] = { 1, 7, 100, 1000, 5000 };
    unsigned seed = 5;
    char q1[300], q2[300];
    static char a1[65536];
    for (int round = 0; round < 60; round++) {
        const char *nd = needles[rnd(&seed) % (sizeof needles / sizeof *needles)];
        uint64_t limit = limits[rnd(&seed) % 5];
        int64_t start = T0 + (int64_t)(rnd(&seed) % N_LINES) * STEP - 2 * SEC;
        int64_t end = start + (int64_t)(rnd(&seed) % N_LINES + 1) * STEP;
        if (round % 4 == 0) { /* everything */
            start = T0 - SEC;
            end = T0 + (int64_t)(N_LINES + 1) * STEP;
        }
        snprintf(q1, sizeof q1, "{app=~\".+\"} |= \"%s\"", nd);
        snprintf(q2, sizeof q2, "{app=~\".+\"} |= \"%s\" != \"qq never\"", nd);
        snprintf(a1, sizeof a1, "%s", fx_logs(q1, start, end, limit, true));
        const char *a2 = fx_logs(q2, start, end, limit, true);
        if (strcmp(a1, a2))
            fail_msg("%s limit %llu [%lld, %lld):\n%.500s\ngeneral:\n%.500s", q1,
                     (unsigned long long)limit, (long long)start, (long long)end, a1, a2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needle_count_equals_general),
        cmocka_unit_test(test_needle_newest_equals_general),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
