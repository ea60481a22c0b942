/* Tests collector/scrape_loop.c and scrape_stale.c through the manager:
 * a scriptable target on core/http (127.0.0.1:0) serves a sequence of
 * bodies, the manager scrapes it every 100-200 ms into a capturing store,
 * and the tests read back exactly what was committed: values, timestamps,
 * staleness markers (bit pattern), report series; the request headers the
 * target saw; honor_labels/honor_timestamps; the limits; gzip; auth;
 * params; metric_relabel_configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "scrape_fixture.h"
#include "scry_build.h"

struct fx {
    struct cap_store *st;
    struct tsrv *srv;
    struct col_scrape_manager *m;
    struct scry_config *cfg;
    pthread_mutex_t mu;
    int n_events;
    char last_error[512];
    char *last_body;
    uint64_t last_scraped, last_post;
};

static void on_scrape(void *ud, const struct col_scrape_event *ev)
{
    struct fx *f = ud;
    pthread_mutex_lock(&f->mu);
    f->n_events++;
    snprintf(f->last_error, sizeof f->last_error, "%s", ev->error);
    free(f->last_body);
    f->last_body = scry_strndup(ev->body, ev->body_len);
    f->last_scraped = ev->samples_scraped;
    f->last_post = ev->samples_post_relabel;
    pthread_mutex_unlock(&f->mu);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->st = cap_create();
    f->srv = tsrv_start();
    struct col_scrape_opts o = { .appendable = &f->st->base, .on_scrape = on_scrape,
                                 .on_scrape_ud = f };
    assert_int_equal(col_scrape_manager_create(&o, &f->m, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    col_scrape_manager_destroy(f->m);
    scry_config_destroy(f->cfg);
    tsrv_stop(f->srv);
    assert_int_equal(f->st->bad_ref, 0);
    cap_destroy(f->st);
    free(f->last_body);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Applies one job "t" scraping the test target every 100 ms with extra keys. */
static void apply_job(struct fx *f, const char *extra)
{
    struct scry_config *old = f->cfg;
    f->cfg = load_cfg("scrape_configs:\n"
                      "  - job_name: t\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n"
                      "    static_configs:\n      - targets: ['127.0.0.1:%d']\n%s",
                      f->srv->port, extra);
    assert_int_equal(col_scrape_manager_apply_config(f->m, f->cfg, NULL), 0);
    scry_config_destroy(old);
}

static int events(struct fx *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_events;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void wait_events(struct fx *f, int n)
{
    for (int w = 0; w < 10000 && events(f) < n; w += 10)
        sleep_ms(10);
    assert_true(events(f) >= n);
}

static char *series(struct fx *f, const char *name, const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s{%sinstance=\"127.0.0.1:%d\", job=\"t\"}", name, extra,
             f->srv->port);
    return buf;
}

static void test_scrape_loop_appends_and_marks_disappeared_series_stale(void **state)
{
    struct fx *f = *state;
    const char *bodies[] = { "# HELP a A.\n# TYPE a gauge\na 1\nb{x=\"1\"} 2\n", "a 3\n", "a 4\n" };
    tsrv_set(f->srv, 3, bodies, NULL);
    apply_job(f, "");
    wait_events(f, 3);
    col_scrape_manager_destroy(f->m);
    f->m = NULL;

    struct cap_sample a[16], b[16], up[16], scraped[16], added[16];
    size_t na = cap_series(f->st, series(f, "a", ""), a, 16);
    char bname[256];
    snprintf(bname, sizeof bname, "b{instance=\"127.0.0.1:%d\", job=\"t\", x=\"1\"}", f->srv->port);
    size_t nb = cap_series(f->st, bname, b, 16);
    size_t nup = cap_series(f->st, series(f, "up", ""), up, 16);
    cap_series(f->st, series(f, "scrape_samples_scraped", ""), scraped, 16);
    cap_series(f->st, series(f, "scrape_series_added", ""), added, 16);
    assert_true(na >= 3);
    assert_true(nup >= 3);
    assert_true(a[0].v == 1 && a[1].v == 3 && a[2].v == 4);
    assert_true(a[0].t_ms < a[1].t_ms && a[1].t_ms < a[2].t_ms);
    /* b was in scrape 1 only: its staleness marker is at scrape 2's time */
    assert_int_equal(nb, 2);
    assert_true(b[0].v == 2);
    assert_true(dbits(b[1].v) == STALE_BITS);
    assert_true(b[1].t_ms == a[1].t_ms);
    assert_true(up[0].v == 1 && up[1].v == 1 && up[2].v == 1);
    assert_true(scraped[0].v == 2 && scraped[1].v == 1);
    assert_true(added[0].v == 2 && added[1].v == 0 && added[2].v == 0);
    assert_true(up[0].t_ms == a[0].t_ms);

    /* what the target saw */
    assert_string_equal(TSRV_FIELD(f->srv, accept), COL_EXPFMT_ACCEPT);
    assert_string_equal(TSRV_FIELD(f->srv, ae), "gzip");
    assert_string_equal(TSRV_FIELD(f->srv, ua), "scry/" SCRY_VERSION);
    assert_string_equal(TSRV_FIELD(f->srv, timeout_hdr), "0.09");
    assert_string_equal(TSRV_FIELD(f->srv, path), "/metrics");
}

static void test_scrape_loop_failed_scrape_is_down_and_marks_all_stale(void **state)
{
    struct fx *f = *state;
    const char *bodies[] = { "a 1\nb 2\n", "oops\n" };
    int status[] = { 200, 500 };
    tsrv_set(f->srv, 2, bodies, status);
    apply_job(f, "");
    wait_events(f, 3);
    col_scrape_manager_destroy(f->m);
    f->m = NULL;
    struct cap_sample a[16], up[16];
    size_t na = cap_series(f->st, series(f, "a", ""), a, 16);
    size_t nup = cap_series(f->st, series(f, "up", ""), up, 16);
    /* one value, one marker at the first failure, nothing after */
    assert_int_equal(na, 2);
    assert_true(a[0].v == 1 && dbits(a[1].v) == STALE_BITS);
    assert_true(nup >= 3);
    assert_true(up[0].v == 1 && up[1].v == 0 && up[2].v == 0);
    assert_true(a[1].t_ms == up[1].t_ms);
    assert_string_equal(f->last_error, "server returned HTTP status 500 Internal Server Error");
}

static void test_scrape_loop_removed_target_marks_all_stale(void **state)
{
    struct fx *f = *state;
    const char *bodies[] = { "a 1\n" };
    tsrv_set(f->srv, 1, bodies, NULL);
    apply_job(f, "");
    wait_events(f, 1);
    int c = cap_commits(f->st);
    assert_int_equal(col_scrape_manager_apply_config(f->m, NULL, NULL), 0);
    assert_true(wait_commits(f->st, c + 1, 5000));
    sleep_ms(300);
    struct cap_sample a[16], up[16], dur[16];
    size_t na = cap_series(f->st, series(f, "a", ""), a, 16);
    size_t nup = cap_series(f->st, series(f, "up", ""), up, 16);
    size_t nd = cap_series(f->st, series(f, "scrape_duration_seconds", ""), dur, 16);
    assert_true(na >= 2 && nup >= 2 && nd >= 2);
    assert_true(dbits(a[na - 1].v) == STALE_BITS);
    assert_true(dbits(up[nup - 1].v) == STALE_BITS);
    assert_true(dbits(dur[nd - 1].v) == STALE_BITS);
    for (size_t i = 0; i + 1 < na; i++)
        assert_true(dbits(a[i].v) != STALE_BITS);
    struct col_scrape_stats s;
    col_scrape_manager_stats(f->m, &s);
    assert_int_equal(s.targets, 0);
}

static void test_scrape_loop_honor_labels(void **state)
{
    struct fx *f = *state;
    const char *bodies[] = { "a{job=\"other\",instance=\"x\",exported_job=\"e\"} 1\n" };
    tsrv_set(f->srv, 1, bodies, NULL);
    f->cfg = load_cfg("scrape_configs:\n"
                      "  - job_name: t\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                      "  - job_name: h\n    honor_labels: true\n    scrape_interval: 100ms\n"
                      "    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                      f->srv->port, f->srv->port);
    assert_int_equal(col_scrape_manager_apply_config(f->m, f->cfg, NULL), 0);
    wait_events(f, 4);
    char want[512];
    snprintf(want, sizeof want,
             "a{exported_exported_job=\"other\", exported_instance=\"x\", exported_job=\"e\", "
             "instance=\"127.0.0.1:%d\", job=\"t\"}", f->srv->port);
    struct cap_sample s[4];
    assert_true(cap_series(f->st, want, s, 4) >= 1);
    assert_true(cap_series(f->st, "a{exported_job=\"e\", instance=\"x\", job=\"other\"}", s, 4) >= 1);
    /* report series keep the target's labels */
    snprintf(want, sizeof want, "up{instance=\"127.0.0.1:%d\", job=\"h\"}", f->srv->port);
    assert_true(cap_series(f->st, want, s, 4) >= 1);
}

static void test_scrape_loop_honor_timestamps(void **state)
{
    struct fx *f = *state;
    const char *bodies[] = { "a 1 1000\n" };
    tsrv_set(f->srv, 1, bodies, NULL);
    f->cfg = load_cfg("scrape_configs:\n"
                      "  - job_name: t\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                      "  - job_name: n\n    honor_timestamps: false\n    scrape_interval: 100ms\n"
                      "    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                      f->srv->port, f->srv->port);
    assert_int_equal(col_scrape_manager_apply_config(f->m, f->cfg, NULL), 0);
    wait_events(f, 4);
    struct cap_sample s[8];
    assert_true(cap_series(f->st, series(f, "a", ""), s, 8) >= 1);
    assert_true(s[0].t_ms == 1000);
    char want[256];
    snprintf(want, sizeof want, "a{instance=\"127.0.0.1:%d\", job=\"n\"}", f->srv->port);
    assert_true(cap_series(f->st, want, s, 8) >= 1);
    assert_true(s[0].t_ms > 1600000000000);
}

/* Runs one job with extra keys on body, waits for 2 scrapes, then stops. */
static void run_one(struct fx *f, const char *extra, const char *body)
{
    const char *bodies[] = { body };
    tsrv_set(f->srv, 1, bodies, NULL);
    apply_job(f, extra);
    wait_events(f, 2);
    col_scrape_manager_destroy(f->m);
    f->m = NULL;
}

static void test_scrape_loop_sample_limit_fails_the_scrape(void **state)
{
    struct fx *f = *state;
    run_one(f, "    sample_limit: 2\n", "a 1\nb 2\nc 3\n");
    struct cap_sample s[8];
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_int_equal(cap_count_prefix(f->st, "b{"), 0);
    assert_true(cap_series(f->st, series(f, "up", ""), s, 8) >= 2);
    assert_true(s[0].v == 0);
    assert_true(cap_series(f->st, series(f, "scrape_samples_scraped", ""), s, 8) >= 1);
    assert_true(s[0].v == 3);
    assert_string_equal(f->last_error, "sample limit exceeded");
}

static void test_scrape_loop_label_limits(void **state)
{
    struct fx *f = *state;
    run_one(f, "    label_limit: 3\n", "a{x=\"1\"} 1\n");
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_non_null(strstr(f->last_error, "label_limit exceeded (metric: a, number of labels: 4, limit: 3)"));
}

static void test_scrape_loop_label_name_length_limit(void **state)
{
    struct fx *f = *state;
    run_one(f, "    label_name_length_limit: 8\n", "a{longlabel=\"1\"} 1\n");
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_non_null(strstr(f->last_error, "label_name_length_limit exceeded"));
}

static void test_scrape_loop_label_value_length_limit(void **state)
{
    struct fx *f = *state;
    run_one(f, "    label_value_length_limit: 20\n", "a{x=\"0123456789012345678901\"} 1\n");
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_non_null(strstr(f->last_error, "label_value_length_limit exceeded"));
}

static void test_scrape_loop_body_size_limit(void **state)
{
    struct fx *f = *state;
    run_one(f, "    body_size_limit: 10B\n", "a 1\nb 2\nc 3\n");
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_string_equal(f->last_error, "body size limit exceeded");
    struct cap_sample s[8];
    assert_true(cap_series(f->st, series(f, "up", ""), s, 8) >= 1 && s[0].v == 0);
}

static void test_scrape_loop_parse_error_is_down(void **state)
{
    struct fx *f = *state;
    run_one(f, "", "a 1\nb{ 2\n");
    assert_int_equal(cap_count_prefix(f->st, "a{"), 0);
    assert_non_null(strstr(f->last_error, "line 2"));
}

static void test_scrape_loop_gzip_response(void **state)
{
    struct fx *f = *state;
    struct scry_buf b = { 0 };
    for (int i = 0; i < 5000; i++)
        scry_buf_printf(&b, "m{i=\"%d\"} %d\n", i, i);
    run_one(f, "", b.p);
    assert_string_equal(TSRV_FIELD(f->srv, ae), "gzip");
    assert_int_equal(f->last_scraped, 5000);
    assert_string_equal(f->last_body, b.p); /* decoded */
    char want[256];
    snprintf(want, sizeof want, "m{i=\"4999\", instance=\"127.0.0.1:%d\", job=\"t\"}", f->srv->port);
    struct cap_sample s[4];
    assert_true(cap_series(f->st, want, s, 4) >= 1 && s[0].v == 4999);
    const char *none[] = { "" };
    tsrv_set(f->srv, 1, none, NULL); /* the server may still hold b.p */
    scry_buf_fini(&b);
}

static void test_scrape_loop_basic_auth(void **state)
{
    struct fx *f = *state;
    run_one(f, "    basic_auth: {username: u, password: p}\n", "a 1\n");
    assert_string_equal(TSRV_FIELD(f->srv, auth), "Basic dTpw");
}

static void test_scrape_loop_bearer_token_file(void **state)
{
    struct fx *f = *state;
    char path[] = "/tmp/scry_scrape_tokenXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char extra[256];
    snprintf(extra, sizeof extra, "    bearer_token_file: %s\n", path);
    run_one(f, extra, "a 1\n");
    assert_string_equal(TSRV_FIELD(f->srv, auth), "Bearer s3cret");
    unlink(path);
}

static void test_scrape_loop_authorization_credentials(void **state)
{
    struct fx *f = *state;
    run_one(f, "    authorization: {type: Token, credentials: abc}\n", "a 1\n");
    assert_string_equal(TSRV_FIELD(f->srv, auth), "Token abc");
}

static void test_scrape_loop_params_and_path(void **state)
{
    struct fx *f = *state;
    run_one(f, "    metrics_path: /other/path\n    params: {module: [m1], target: ['x y']}\n",
            "a 1\n");
    assert_string_equal(TSRV_FIELD(f->srv, path), "/other/path");
    assert_string_equal(TSRV_FIELD(f->srv, query), "module=m1&target=x y");
}

static void test_scrape_loop_metric_relabel_drop(void **state)
{
    struct fx *f = *state;
    run_one(f,
            "    metric_relabel_configs:\n"
            "      - {source_labels: [__name__], regex: 'b.*', action: drop}\n"
            "      - {source_labels: [x], target_label: y}\n",
            "a{x=\"1\"} 1\nb 2\nbb 3\n");
    assert_int_equal(cap_count_prefix(f->st, "b{"), 0);
    assert_int_equal(cap_count_prefix(f->st, "bb{"), 0);
    struct cap_sample s[8];
    char want[256];
    snprintf(want, sizeof want, "a{instance=\"127.0.0.1:%d\", job=\"t\", x=\"1\", y=\"1\"}",
             f->srv->port);
    assert_true(cap_series(f->st, want, s, 8) >= 2);
    assert_int_equal(f->last_scraped, 3);
    assert_int_equal(f->last_post, 1);
    assert_true(cap_series(f->st, series(f, "scrape_samples_post_metric_relabeling", ""), s, 8) >= 1);
    assert_true(s[0].v == 1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_scrape_loop_appends_and_marks_disappeared_series_stale),
        T(test_scrape_loop_failed_scrape_is_down_and_marks_all_stale),
        T(test_scrape_loop_removed_target_marks_all_stale),
        T(test_scrape_loop_honor_labels),
        T(test_scrape_loop_honor_timestamps),
        T(test_scrape_loop_sample_limit_fails_the_scrape),
        T(test_scrape_loop_label_limits),
        T(test_scrape_loop_label_name_length_limit),
        T(test_scrape_loop_label_value_length_limit),
        T(test_scrape_loop_body_size_limit),
        T(test_scrape_loop_parse_error_is_down),
        T(test_scrape_loop_gzip_response),
        T(test_scrape_loop_basic_auth),
        T(test_scrape_loop_bearer_token_file),
        T(test_scrape_loop_authorization_credentials),
        T(test_scrape_loop_params_and_path),
        T(test_scrape_loop_metric_relabel_drop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
