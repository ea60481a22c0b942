/* Counting range aggregations (count_over_time, bytes_over_time, rate,
 * bytes_rate) are summed into per-step buckets, and over a `pattern`
 * pipeline grouped `by` captures their group keys come from the captured
 * bytes without a row (logql_eval_count.c). Both must answer exactly as
 * the general path: each query is compared with the same query made to
 * take the general path (a no-op label filter after the pattern) and, for
 * counts, with sum_over_time of an unwrapped 1 (the points path: sorted
 * points, sliding window). The corpus mixes matching and malformed lines,
 * a stream whose label collides with a capture (`status` becomes
 * `status_extracted`), entries with structured metadata, and several
 * segments plus the head. */
#include "logql_fixture.h"

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

#define N_LINES 4000
#define T0 (1000 * SEC)

static int setup(void **state)
{
    if (fx_setup(state))
        return -1;
    unsigned seed = 5;
    static const char *const streams[] = { "app=nginx,host=a", "app=nginx,host=b",
                                           "app=nginx,host=c,status=s", "app=other" };
    static const char *const st[] = { "200", "200", "200", "404", "500", "", "301" };
    static const char *const meth[] = { "GET", "POST", "PUT" };
    struct scry_err err = { 0 };
    for (int i = 0; i < N_LINES; i++) {
        char line[200];
        unsigned r = rnd(&seed);
        if (r % 17 == 0)
            snprintf(line, sizeof line, "malformed %u", r);
        else if (r % 23 == 0)
            snprintf(line, sizeof line, "10.0.0.%u - - [x] \"%s /p HTTP/1.1\"", r % 9,
                     meth[r % 3]); /* stops before the status */
        else
            snprintf(line, sizeof line, "10.0.0.%u - - [t%u] \"%s /a/%u HTTP/1.1\" %s %u",
                     r % 9, i, meth[(r >> 3) % 3], r % 50, st[(r >> 5) % 7], r % 999);
        /* 2.5 entries per second: several per step, steps without any */
        fx_append(streams[i % 4], T0 + (int64_t)i * 400000000LL, line,
                  r % 29 == 0 ? "trace=abc" : NULL);
        if (i % 1100 == 1099 && ls_flush(fx_st, &err))
            fail_msg("flush: %s", err.msg);
    }
    return 0;
}

static const char *const pats[] = {
    "<_> - - [<_>] \"<method> <_> <_>\" <status> <size>",
    "<ip> - - [<_>] \"<method> <path> <_>\" <status> <_>",
    "<_> <_> <_> [<_>] \"<_>\" <status> <_>",
};
static const char *const groups[] = { "status", "status, host", "method", "", "host",
                                      "size", "status, status", "nothere" };
static const char *const ops[] = { "count_over_time", "bytes_over_time", "rate", "bytes_rate" };
static const char *const ranges[] = { "1m", "30s", "2m", "17s" };
static const char *const filters[] = { "", " |= \"GET\"", " |= \"HTTP\" |= \"/a/1\"" };

static void test_logql_count_fast_equals_general(void **state)
{
    (void)state;
    unsigned seed = 11;
    char q1[600], q2[600], a1[65536];
    int nonempty = 0;
    int64_t end = T0 + (int64_t)N_LINES * 400000000LL;
    for (int round = 0; round < 160; round++) {
        const char *pat = pats[rnd(&seed) % 3], *g = groups[rnd(&seed) % 8];
        const char *op = ops[rnd(&seed) % 4], *rg = ranges[rnd(&seed) % 4];
        const char *f = filters[rnd(&seed) % 3];
        int64_t step = (int64_t)(5 + rnd(&seed) % 70) * SEC;
        int64_t start = T0 - 30 * SEC + (int64_t)(rnd(&seed) % 60) * SEC;
        bool instant = round % 5 == 0;
        snprintf(q1, sizeof q1, "sum by (%s) (%s({app=\"nginx\"}%s | pattern `%s` [%s]))", g, op,
                 f, pat, rg);
        snprintf(q2, sizeof q2,
                 "sum by (%s) (%s({app=\"nginx\"}%s | pattern `%s` | zz_none!=\"1\" [%s]))", g, op,
                 f, pat, rg);
        snprintf(a1, sizeof a1, "%s", fx_metric(q1, instant ? end : start, end, step, instant));
        const char *a2 = fx_metric(q2, instant ? end : start, end, step, instant);
        if (strcmp(a1, a2))
            fail_msg("%s\n%s\n--- general path:\n%s", q1, a1, a2);
        nonempty += a1[0] == '{';
        if (!strcmp(op, "count_over_time")) {
            /* the points path: sum of an unwrapped 1 per entry */
            snprintf(q2, sizeof q2,
                     "sum by (%s) (sum_over_time({app=\"nginx\"}%s | pattern `%s` | "
                     "label_format one=\"1\" | unwrap one [%s]))",
                     g, f, pat, rg);
            a2 = fx_metric(q2, instant ? end : start, end, step, instant);
            if (strcmp(a1, a2))
                fail_msg("%s\n%s\n--- sum_over_time:\n%s", q1, a1, a2);
        }
    }
    assert_true(nonempty > 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logql_count_fast_equals_general),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
