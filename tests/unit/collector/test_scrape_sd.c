/* Tests collector/file_sd.c, config reloads in scrape_manager.c and the
 * HTTP API of scrape_api.c: file_sd files (JSON and YAML) parsed, then
 * changed on disk while the manager polls them; apply_config with the same
 * config keeps every loop, a changed job restarts only that job; the
 * /api/v1/targets and /api/v1/metadata answers parsed with core/json_read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "collector/scrape_internal.h"
#include "core/json_read.h"
#include "scrape_fixture.h"

/* ---- file_sd parsing ------------------------------------------------------ */

static void test_scrape_sd_parse_json_and_yaml(void **state)
{
    (void)state;
    struct scry_arena *a = scry_arena_create(0);
    struct col__tgroup *g;
    size_t n;
    const char *js = "[{\"targets\": [\"h1:1\", \"h2:2\"], \"labels\": {\"env\": \"prod\"}, \"x\": 1},"
                     " {\"targets\": [\"h3:3\"]}]";
    assert_int_equal(col__file_sd_parse(a, "/sd/a.json", js, strlen(js), false, &g, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(g[0].n_targets, 2);
    assert_string_equal(g[0].targets[1], "h2:2");
    assert_int_equal(g[0].labels.n, 2);
    assert_string_equal(scry_labels_get(&g[0].labels, "__meta_filepath"), "/sd/a.json");
    assert_string_equal(scry_labels_get(&g[0].labels, "env"), "prod");
    assert_int_equal(g[1].labels.n, 1);

    const char *ys = "- targets: ['h1:1']\n  labels:\n    env: dev\n- targets: []\n";
    assert_int_equal(col__file_sd_parse(a, "/sd/b.yml", ys, strlen(ys), true, &g, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].targets[0], "h1:1");
    assert_string_equal(scry_labels_get(&g[0].labels, "env"), "dev");
    assert_int_equal(g[1].n_targets, 0);
    assert_int_equal(col__file_sd_parse(a, "/sd/e.yml", "", 0, true, &g, &n, NULL), 0);
    assert_int_equal(n, 0);

    static const struct { bool yaml; const char *in, *err; } bad[] = {
        { false, "{}", "expected a list of target groups" },
        { false, "[null]", "nil target group item found" },
        { false, "[{\"targets\": [1]}]", "expected a string" },
        { false, "[{\"labels\": {\"0bad\": \"x\"}}]", "\"0bad\" is not a valid label name" },
        { false, "[{\"labels\": {\"a\": 1}}]", "expected a string" },
        { false, "[{\"targets\": [\"a\"]", "unexpected end of JSON input" },
        { true, "- targets: [a]\n  lables: {}\n", "field lables not found" },
        { true, "- labels: {0bad: x}\n", "not a valid label name" },
        { true, "targets: [a]\n", "expected a list of target groups" },
        { true, "- targets: {a: b}\n", "targets: expected a list" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scry_err err = { 0 };
        int rc = col__file_sd_parse(a, "/sd/x", bad[i].in, strlen(bad[i].in), bad[i].yaml, &g,
                                    &n, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].err))
            fail_msg("case %zu: want \"%s\", got %d \"%s\"", i, bad[i].err, rc, err.msg);
        assert_non_null(strstr(err.msg, "/sd/x"));
    }
    scry_arena_destroy(a);
}

/* ---- fixture with a manager --------------------------------------------- */

struct fx {
    struct cap_store *st;
    struct tsrv *srv;
    struct col_scrape_manager *m;
    struct scry_config *cfg;
    char dir[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->st = cap_create();
    f->srv = tsrv_start();
    static const char *bodies[] = { "# HELP a A help.\n# TYPE a gauge\na 1\n"
                                    "# TYPE c_total counter\nc_total 5\n" };
    tsrv_set(f->srv, 1, bodies, NULL);
    struct col_scrape_opts o = { .appendable = &f->st->base };
    assert_int_equal(col_scrape_manager_create(&o, &f->m, NULL), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/scry_sd_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void apply(struct fx *f, struct scry_config *cfg)
{
    assert_int_equal(col_scrape_manager_apply_config(f->m, cfg, NULL), 0);
    scry_config_destroy(f->cfg); /* allowed once apply_config returned */
    f->cfg = cfg;
}

static struct col_scrape_stats stats(struct fx *f)
{
    struct col_scrape_stats s;
    col_scrape_manager_stats(f->m, &s);
    return s;
}

static bool wait_targets(struct fx *f, uint64_t n)
{
    for (int w = 0; w < 5000; w += 20) {
        if (stats(f).targets == n)
            return true;
        sleep_ms(20);
    }
    return false;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256], tmp[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(rename(tmp, path), 0);
}

static size_t count_stale(struct cap_store *st, const char *prefix)
{
    size_t n = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n; i++)
        if (dbits(st->v[i].v) == STALE_BITS && strncmp(st->v[i].labels, prefix, strlen(prefix)) == 0)
            n++;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void test_scrape_sd_file_sd_targets_follow_the_files(void **state)
{
    struct fx *f = *state;
    char buf[512];
    snprintf(buf, sizeof buf, "[{\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"env\": \"a\"}}]",
             f->srv->port);
    write_file(f->dir, "t.json", buf);
    apply(f, load_cfg("scrape_configs:\n  - job_name: sd\n    scrape_interval: 100ms\n"
                      "    scrape_timeout: 90ms\n    file_sd_configs:\n"
                      "      - files: ['%s/*.json', '%s/*.yml']\n        refresh_interval: 100ms\n",
                      f->dir, f->dir));
    assert_int_equal(stats(f).targets, 1); /* read during apply_config */
    char want[256];
    snprintf(want, sizeof want, "a{env=\"a\", instance=\"127.0.0.1:%d\", job=\"sd\"}", f->srv->port);
    struct cap_sample s[64];
    for (int w = 0; w < 5000 && cap_series(f->st, want, s, 64) == 0; w += 20)
        sleep_ms(20);
    assert_true(cap_series(f->st, want, s, 64) >= 1);

    /* two targets now; then a YAML file adds a third */
    snprintf(buf, sizeof buf,
             "[{\"targets\": [\"127.0.0.1:%d\", \"localhost:%d\"], \"labels\": {\"env\": \"a\"}}]",
             f->srv->port, f->srv->port);
    write_file(f->dir, "t.json", buf);
    assert_true(wait_targets(f, 2));
    snprintf(buf, sizeof buf, "- targets: ['127.0.0.1:%d']\n  labels: {env: y}\n", f->srv->port);
    write_file(f->dir, "u.yml", buf);
    assert_true(wait_targets(f, 3));

    /* a broken file keeps its last good groups */
    write_file(f->dir, "t.json", "[{\"targets\": ");
    sleep_ms(400);
    assert_int_equal(stats(f).targets, 3);

    /* a removed file removes its targets, which get staleness markers */
    snprintf(buf, sizeof buf, "%s/t.json", f->dir);
    assert_int_equal(unlink(buf), 0);
    assert_true(wait_targets(f, 1));
    for (int w = 0; w < 5000 && count_stale(f->st, want) == 0; w += 20)
        sleep_ms(20);
    if (count_stale(f->st, want) != 1) {
        for (size_t i = 0; i < f->st->n; i++) /* what happened, for a rare failure */
            fprintf(stderr, "%s %lld %g\n", f->st->v[i].labels, (long long)f->st->v[i].t_ms,
                    f->st->v[i].v);
        fail_msg("want one staleness marker for %s", want);
    }
    snprintf(want, sizeof want, "a{env=\"y\", instance=\"127.0.0.1:%d\", job=\"sd\"}", f->srv->port);
    assert_int_equal(count_stale(f->st, want), 0);
}

static const char *two_jobs =
    "scrape_configs:\n"
    "  - job_name: j1\n    scrape_interval: %s\n    scrape_timeout: 90ms\n"
    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
    "  - job_name: j2\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n"
    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n";

static void test_scrape_sd_reload_keeps_unchanged_loops(void **state)
{
    struct fx *f = *state;
    apply(f, load_cfg(two_jobs, "100ms", f->srv->port, f->srv->port));
    assert_true(wait_commits(f->st, 4, 5000));
    struct col_scrape_stats s0 = stats(f);
    assert_int_equal(s0.loops_started, 2);

    /* the same config, as a new object: same loops, scrapes go on, nothing stale */
    apply(f, load_cfg(two_jobs, "100ms", f->srv->port, f->srv->port));
    int c = cap_commits(f->st);
    assert_true(wait_commits(f->st, c + 4, 5000));
    struct col_scrape_stats s1 = stats(f);
    assert_int_equal(s1.loops_started, 2);
    assert_true(s1.scrapes_ok > s0.scrapes_ok);
    assert_int_equal(count_stale(f->st, ""), 0);

    /* j1's interval changes: only j1 restarts, still without markers */
    apply(f, load_cfg(two_jobs, "200ms", f->srv->port, f->srv->port));
    c = cap_commits(f->st);
    assert_true(wait_commits(f->st, c + 4, 5000));
    struct col_scrape_stats s2 = stats(f);
    assert_int_equal(s2.loops_started, 3);
    assert_int_equal(s2.targets, 2);
    assert_int_equal(count_stale(f->st, ""), 0);
}

/* ---- API -------------------------------------------------------------------- */

static const struct scry_jval *get_json(struct scry_arena *a, const char *url)
{
    struct scry_buf b = { 0 };
    assert_int_equal(http_get(url, &b), 200);
    struct scry_jval *root;
    struct scry_err err;
    if (scry_json_parse(a, b.p, b.len, NULL, &root, &err) != 0)
        fail_msg("bad JSON: %s\n%s", err.msg, b.p);
    scry_buf_fini(&b);
    return root;
}

static const char *jstr(const struct scry_jval *v)
{
    struct scry_str s;
    if (scry_jval_str(v, &s) != 0)
        fail_msg("not a string");
    return s.p;
}

static void test_scrape_sd_api_targets_and_metadata(void **state)
{
    struct fx *f = *state;
    struct scry_http_server *api;
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&api, &o, NULL), 0);
    col_scrape_register_api(f->m, api);
    assert_int_equal(scry_http_server_start(api, NULL), 0);
    apply(f, load_cfg("scrape_configs:\n  - job_name: t\n    scrape_interval: 100ms\n"
                      "    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d', 'gone:1']}]\n"
                      "    relabel_configs:\n"
                      "      - {source_labels: [__address__], regex: 'gone:.*', action: drop}\n",
                      f->srv->port));
    assert_true(wait_commits(f->st, 2, 5000));

    struct scry_arena *a = scry_arena_create(0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/targets", scry_http_server_port(api));
    const struct scry_jval *r = get_json(a, url);
    assert_string_equal(jstr(scry_jval_get(r, "status")), "success");
    const struct scry_jval *d = scry_jval_get(r, "data");
    const struct scry_jval *at = scry_jval_get(d, "activeTargets");
    assert_int_equal(scry_jval_len(at), 1);
    const struct scry_jval *t = scry_jval_at(at, 0);
    char inst[64], surl[128];
    snprintf(inst, sizeof inst, "127.0.0.1:%d", f->srv->port);
    snprintf(surl, sizeof surl, "http://127.0.0.1:%d/metrics", f->srv->port);
    assert_string_equal(jstr(scry_jval_get(scry_jval_get(t, "labels"), "instance")), inst);
    assert_string_equal(jstr(scry_jval_get(scry_jval_get(t, "labels"), "job")), "t");
    assert_int_equal(scry_jval_len(scry_jval_get(t, "labels")), 2);
    assert_string_equal(jstr(scry_jval_get(scry_jval_get(t, "discoveredLabels"), "__address__")), inst);
    assert_string_equal(jstr(scry_jval_get(scry_jval_get(t, "discoveredLabels"), "__scheme__")), "http");
    assert_string_equal(jstr(scry_jval_get(t, "scrapePool")), "t");
    assert_string_equal(jstr(scry_jval_get(t, "scrapeUrl")), surl);
    assert_string_equal(jstr(scry_jval_get(t, "globalUrl")), surl);
    assert_string_equal(jstr(scry_jval_get(t, "lastError")), "");
    assert_string_equal(jstr(scry_jval_get(t, "health")), "up");
    assert_string_equal(jstr(scry_jval_get(t, "scrapeInterval")), "100ms");
    assert_string_equal(jstr(scry_jval_get(t, "scrapeTimeout")), "90ms");
    const char *ls = jstr(scry_jval_get(t, "lastScrape"));
    assert_true(strlen(ls) >= 20 && ls[4] == '-' && ls[10] == 'T' && ls[strlen(ls) - 1] == 'Z');
    double dur;
    assert_int_equal(scry_jval_double(scry_jval_get(t, "lastScrapeDuration"), &dur), 0);
    assert_true(dur > 0 && dur < 1);
    const struct scry_jval *dt = scry_jval_get(d, "droppedTargets");
    assert_int_equal(scry_jval_len(dt), 1);
    assert_string_equal(jstr(scry_jval_get(scry_jval_get(scry_jval_at(dt, 0), "discoveredLabels"),
                                           "__address__")), "gone:1");
    int64_t nd;
    assert_int_equal(scry_jval_int64(scry_jval_get(scry_jval_get(d, "droppedTargetCounts"), "t"), &nd), 0);
    assert_int_equal(nd, 1);

    strcat(url, "?state=dropped");
    r = get_json(a, url);
    assert_int_equal(scry_jval_len(scry_jval_get(scry_jval_get(r, "data"), "activeTargets")), 0);
    assert_int_equal(scry_jval_len(scry_jval_get(scry_jval_get(r, "data"), "droppedTargets")), 1);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/metadata", scry_http_server_port(api));
    r = get_json(a, url);
    assert_string_equal(jstr(scry_jval_get(r, "status")), "success");
    d = scry_jval_get(r, "data");
    assert_int_equal(scry_jval_len(d), 2);
    const struct scry_jval *ma = scry_jval_at(scry_jval_get(d, "a"), 0);
    assert_string_equal(jstr(scry_jval_get(ma, "type")), "gauge");
    assert_string_equal(jstr(scry_jval_get(ma, "help")), "A help.");
    assert_string_equal(jstr(scry_jval_get(ma, "unit")), "");
    ma = scry_jval_at(scry_jval_get(d, "c_total"), 0);
    assert_string_equal(jstr(scry_jval_get(ma, "type")), "counter");
    assert_string_equal(jstr(scry_jval_get(ma, "help")), "");
    strcat(url, "?metric=a");
    r = get_json(a, url);
    assert_int_equal(scry_jval_len(scry_jval_get(r, "data")), 1);

    scry_http_server_stop(api);
    scry_http_server_destroy(api);
    scry_arena_destroy(a);
}

static void test_scrape_sd_metadata_deduplicated_across_targets(void **state)
{
    struct fx *f = *state;
    struct scry_http_server *api;
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&api, &o, NULL), 0);
    col_scrape_register_api(f->m, api);
    assert_int_equal(scry_http_server_start(api, NULL), 0);
    apply(f, load_cfg("scrape_configs:\n  - job_name: t\n    scrape_interval: 100ms\n"
                      "    scrape_timeout: 90ms\n"
                      "    static_configs: [{targets: ['127.0.0.1:%d', 'localhost:%d']}]\n",
                      f->srv->port, f->srv->port));
    assert_true(wait_commits(f->st, 4, 5000));
    struct scry_arena *a = scry_arena_create(0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/metadata", scry_http_server_port(api));
    const struct scry_jval *r = get_json(a, url);
    assert_int_equal(scry_jval_len(scry_jval_get(scry_jval_get(r, "data"), "a")), 1);
    scry_http_server_stop(api);
    scry_http_server_destroy(api);
    scry_arena_destroy(a);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_sd_parse_json_and_yaml),
        T(test_scrape_sd_file_sd_targets_follow_the_files),
        T(test_scrape_sd_reload_keeps_unchanged_loops),
        T(test_scrape_sd_api_targets_and_metadata),
        T(test_scrape_sd_metadata_deduplicated_across_targets),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
