/* Tests core/metrics.c and core/proc.c: exact text-format output, escaping,
 * histogram buckets, exact sums under concurrency, collectors and the
 * process collector. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/metrics.h"

static void extra_collector(struct scry_buf *out, void *ud)
{
    scry_buf_printf(out, "extra %d\n", *(int *)ud);
}

static void test_metrics_render_exact_text(void **state)
{
    struct scry_metrics *m = scry_metrics_create();
    const char *const req_labels[] = { "code", "method" };
    struct scry_metric_family *req =
        scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_requests_total",
                            "Requests by code\\path\nsecond line.", req_labels, 2, NULL, 0);
    /* created out of order; rendered sorted by label values */
    struct scry_metric *bad = scry_metric_with(req, (const char *const[]){ "500", "PO\"S\\T\n" });
    struct scry_metric *ok = scry_metric_with(req, (const char *const[]){ "200", "GET" });
    scry_metric_inc(ok);
    scry_metric_add(ok, 2);
    scry_metric_add(bad, 1.5);
    assert_ptr_equal(scry_metric_with(req, (const char *const[]){ "200", "GET" }), ok);

    scry_metric_set(scry_metrics_gauge(m, "scry_up", "Whether up."), 1);

    const char *const h_labels[] = { "handler" };
    const double bounds[] = { 0.005, 0.5, 1 };
    struct scry_metric_family *lat = scry_metrics_family(
        m, SCRY_METRIC_HISTOGRAM, "scry_latency_seconds", "Request latency.", h_labels, 1, bounds, 3);
    struct scry_metric *h = scry_metric_with(lat, (const char *const[]){ "/q" });
    scry_histogram_observe(h, 0.00390625); /* sums exactly representable */
    scry_histogram_observe(h, 0.25);
    scry_histogram_observe(h, 0.5); /* on the bound: le is inclusive */
    scry_histogram_observe(h, 2);

    const double one[] = { 1, INFINITY }; /* an explicit +Inf is dropped, not doubled */
    struct scry_metric_family *plain =
        scry_metrics_family(m, SCRY_METRIC_HISTOGRAM, "scry_b_seconds", "Plain.", NULL, 0, one, 2);
    scry_histogram_observe(scry_metric_with(plain, NULL), 3);

    /* registered but without children: left out */
    scry_metrics_family(m, SCRY_METRIC_GAUGE, "scry_empty", "No children.", h_labels, 1, NULL, 0);
    int seven = 7;
    scry_metrics_add_collector(m, extra_collector, &seven);

    struct scry_buf out = { 0 };
    scry_metrics_render(m, &out);
    assert_string_equal(out.p,
                        "# HELP scry_b_seconds Plain.\n"
                        "# TYPE scry_b_seconds histogram\n"
                        "scry_b_seconds_bucket{le=\"1\"} 0\n"
                        "scry_b_seconds_bucket{le=\"+Inf\"} 1\n"
                        "scry_b_seconds_sum 3\n"
                        "scry_b_seconds_count 1\n"
                        "# HELP scry_latency_seconds Request latency.\n"
                        "# TYPE scry_latency_seconds histogram\n"
                        "scry_latency_seconds_bucket{handler=\"/q\",le=\"0.005\"} 1\n"
                        "scry_latency_seconds_bucket{handler=\"/q\",le=\"0.5\"} 3\n"
                        "scry_latency_seconds_bucket{handler=\"/q\",le=\"1\"} 3\n"
                        "scry_latency_seconds_bucket{handler=\"/q\",le=\"+Inf\"} 4\n"
                        "scry_latency_seconds_sum{handler=\"/q\"} 2.75390625\n"
                        "scry_latency_seconds_count{handler=\"/q\"} 4\n"
                        "# HELP scry_requests_total Requests by code\\\\path\\nsecond line.\n"
                        "# TYPE scry_requests_total counter\n"
                        "scry_requests_total{code=\"200\",method=\"GET\"} 3\n"
                        "scry_requests_total{code=\"500\",method=\"PO\\\"S\\\\T\\n\"} 1.5\n"
                        "# HELP scry_up Whether up.\n"
                        "# TYPE scry_up gauge\n"
                        "scry_up 1\n"
                        "extra 7\n");
    scry_buf_fini(&out);
    scry_metrics_destroy(m);
}

static void test_metrics_family_registered_once(void **state)
{
    struct scry_metrics *m = scry_metrics_create();
    struct scry_metric *a = scry_metrics_counter(m, "scry_x_total", "X.");
    struct scry_metric *b = scry_metrics_counter(m, "scry_x_total", "X again.");
    assert_ptr_equal(a, b);
    scry_metric_inc(a);
    assert_true(scry_metric_value(b) == 1);
    scry_metric_set(scry_metrics_gauge(m, "scry_g", "G."), -2.5);
    assert_true(scry_metric_value(scry_metrics_gauge(m, "scry_g", "G.")) == -2.5);
    scry_metrics_destroy(m);
    scry_metrics_destroy(NULL);
}

static void test_metrics_default_buckets(void **state)
{
    assert_int_equal(scry_metrics_n_default_buckets, 11);
    assert_true(scry_metrics_default_buckets[0] == 0.005);
    assert_true(scry_metrics_default_buckets[10] == 10);
    struct scry_metrics *m = scry_metrics_create();
    struct scry_metric_family *f =
        scry_metrics_family(m, SCRY_METRIC_HISTOGRAM, "scry_d", "D.", NULL, 0, NULL, 0);
    scry_histogram_observe(scry_metric_with(f, NULL), 0.3);
    struct scry_buf out = { 0 };
    scry_metrics_render(m, &out);
    assert_non_null(strstr(out.p, "scry_d_bucket{le=\"0.25\"} 0\nscry_d_bucket{le=\"0.5\"} 1\n"));
    assert_non_null(strstr(out.p, "scry_d_bucket{le=\"10\"} 1\nscry_d_bucket{le=\"+Inf\"} 1\n"));
    scry_buf_fini(&out);
    scry_metrics_destroy(m);
}

static void expect_rendered(double v, const char *want)
{
    struct scry_buf b = { 0 };
    scry_buf_put_double(&b, v);
    assert_string_equal(b.p, want);
    scry_buf_fini(&b);
}

/* Outputs of Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang
 * uses for sample values and le. */
static void test_metrics_values_formatted_like_go(void **state)
{
    expect_rendered(0, "0");
    expect_rendered(1, "1");
    expect_rendered(10, "10");
    expect_rendered(0.005, "0.005");
    expect_rendered(2.5, "2.5");
    expect_rendered(-2.5, "-2.5");
    expect_rendered(0.1, "0.1");
    expect_rendered(123456, "123456");
    expect_rendered(1e6, "1e+06");
    expect_rendered(16289792, "1.6289792e+07");
    expect_rendered(0.0001, "0.0001");
    expect_rendered(0.00001, "1e-05");
    expect_rendered(1.5e-7, "1.5e-07");
    expect_rendered(1e100, "1e+100");
    expect_rendered(NAN, "NaN");
    expect_rendered(INFINITY, "+Inf");
    expect_rendered(-INFINITY, "-Inf");
}

#define N_THREADS 4
#define N_INCS 100000

struct worker {
    struct scry_metric_family *req, *lat;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    /* each thread looks the children up itself: creation races are part of the test */
    struct scry_metric *c = scry_metric_with(w->req, (const char *const[]){ "GET" });
    struct scry_metric *h = scry_metric_with(w->lat, NULL);
    for (int i = 0; i < N_INCS; i++) {
        scry_metric_inc(c);
        scry_histogram_observe(h, 0.5);
    }
    return NULL;
}

static void test_metrics_concurrent_increments_are_exact(void **state)
{
    struct scry_metrics *m = scry_metrics_create();
    const char *const labels[] = { "method" };
    struct worker w = {
        scry_metrics_family(m, SCRY_METRIC_COUNTER, "scry_c_total", "C.", labels, 1, NULL, 0),
        scry_metrics_family(m, SCRY_METRIC_HISTOGRAM, "scry_h", "H.", NULL, 0,
                            (const double[]){ 1 }, 1),
    };
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&th[i], NULL, hammer, &w);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);

    struct scry_metric *c = scry_metric_with(w.req, (const char *const[]){ "GET" });
    assert_true(scry_metric_value(c) == (double)N_THREADS * N_INCS);
    struct scry_buf out = { 0 };
    scry_metrics_render(m, &out);
    char want[256];
    snprintf(want, sizeof want, "scry_c_total{method=\"GET\"} %d\n", N_THREADS * N_INCS);
    assert_non_null(strstr(out.p, want));
    snprintf(want, sizeof want,
             "scry_h_bucket{le=\"1\"} %d\nscry_h_bucket{le=\"+Inf\"} %d\n"
             "scry_h_sum %d\nscry_h_count %d\n",
             N_THREADS * N_INCS, N_THREADS * N_INCS, N_THREADS * N_INCS / 2, N_THREADS * N_INCS);
    assert_non_null(strstr(out.p, want));
    scry_buf_fini(&out);
    scry_metrics_destroy(m);
}

/* Reads the value of an unlabelled sample "name v\n" from text. */
static double sample(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("no sample %s in:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

static void test_metrics_process_collector(void **state)
{
    struct scry_metrics *m = scry_metrics_create();
    scry_metrics_add_process_collector(m);
    struct scry_buf out = { 0 };
    scry_buf_putc(&out, '\n'); /* so sample() finds the first line too */
    scry_metrics_render(m, &out);
    assert_non_null(strstr(out.p, "# TYPE process_cpu_seconds_total counter\n"));
    assert_true(sample(out.p, "process_cpu_seconds_total") >= 0);
    assert_true(sample(out.p, "process_resident_memory_bytes") > 1e5);
    assert_true(sample(out.p, "process_virtual_memory_bytes") >=
                sample(out.p, "process_resident_memory_bytes"));
    double fds = sample(out.p, "process_open_fds");
    assert_true(fds >= 3);
    double max = sample(out.p, "process_max_fds");
    assert_true(max == -1 || max >= fds);
    double start = sample(out.p, "process_start_time_seconds"), now = (double)time(NULL);
    assert_true(start > now - 3600 && start <= now + 1); /* this test started recently */
    /* families come out in name order */
    assert_true(strstr(out.p, "process_cpu_seconds_total") < strstr(out.p, "process_max_fds"));
    assert_true(strstr(out.p, "process_start_time_seconds") <
                strstr(out.p, "process_virtual_memory_bytes"));
    scry_buf_fini(&out);
    scry_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_exact_text),
        cmocka_unit_test(test_metrics_family_registered_once),
        cmocka_unit_test(test_metrics_default_buckets),
        cmocka_unit_test(test_metrics_values_formatted_like_go),
        cmocka_unit_test(test_metrics_concurrent_increments_are_exact),
        cmocka_unit_test(test_metrics_process_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
