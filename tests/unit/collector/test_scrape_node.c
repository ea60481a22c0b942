/* Scrapes a real prometheus-node-exporter (the Debian package; scripts/deps.sh
 * installs it) started by the test on a free loopback port, through the
 * scrape manager into a capturing store, and checks that what was stored
 * is exactly what the exporter sent in that scrape: the manager's debug
 * hook hands over the body it parsed, the test parses it again with its
 * own simple line splitter, and the two sample sets (labels including
 * job and instance, values bit for bit) must be equal. A second, direct
 * fetch checks that the stable series (*_info, node_cpu_seconds_total)
 * are the ones stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>

#include "scrape_fixture.h"

#define NODE_EXPORTER "/usr/bin/prometheus-node-exporter"

struct ev {
    pthread_mutex_t mu;
    int n;
    char *body;
    int64_t t_ms;
    uint64_t scraped;
    bool up;
    char error[512];
};

static void on_scrape(void *ud, const struct col_scrape_event *e)
{
    struct ev *ev = ud;
    pthread_mutex_lock(&ev->mu);
    if (ev->n++ == 0) {
        ev->body = scry_strndup(e->body, e->body_len);
        ev->t_ms = e->t_ms;
        ev->scraped = e->samples_scraped;
        ev->up = e->up;
        snprintf(ev->error, sizeof ev->error, "%s", e->error);
    }
    pthread_mutex_unlock(&ev->mu);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- the test's own reading of a text-format body ----------------------- */

struct line {
    char *labels; /* as scry_labels_format writes them, with job and instance */
    double v;
};

static int line_cmp(const void *x, const void *y)
{
    const struct line *a = x, *b = y;
    return strcmp(a->labels, b->labels);
}

/* name{k="v",...} value  — node_exporter writes no timestamps. */
static size_t split_body(const char *body, const char *instance, struct line **out)
{
    size_t n = 0, cap = 0;
    struct line *v = NULL;
    struct scry_arena *a = scry_arena_create(0);
    const char *p = body;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && p[0] != '#') {
            char *ln = scry_strndup(p, len);
            char *sp = strrchr(ln, ' ');
            assert_non_null(sp);
            *sp = '\0';
            double val = strtod(sp + 1, NULL);
            struct scry_labels_builder b;
            scry_labels_builder_init(&b, a);
            char *brace = strchr(ln, '{');
            if (brace) {
                *brace = '\0';
                char *q = brace + 1;
                while (*q && *q != '}') {
                    char *eq = strchr(q, '=');
                    *eq = '\0';
                    char *name = q, *val0 = eq + 2, *w = val0, *r = val0;
                    while (*r != '"') {
                        if (*r == '\\') {
                            r++;
                            *w++ = *r == 'n' ? '\n' : *r;
                            r++;
                        } else {
                            *w++ = *r++;
                        }
                    }
                    *w = '\0';
                    scry_labels_builder_set(&b, name, val0);
                    q = r + 1;
                    if (*q == ',')
                        q++;
                }
            }
            scry_labels_builder_set(&b, "__name__", ln);
            scry_labels_builder_set(&b, "job", "node");
            scry_labels_builder_set(&b, "instance", instance);
            struct scry_labels ls = scry_labels_builder_labels(&b);
            struct scry_buf f = { 0 };
            scry_labels_format(&ls, &f);
            if (n == cap) {
                cap = cap ? cap * 2 : 512;
                v = realloc(v, cap * sizeof *v);
            }
            v[n++] = (struct line){ scry_buf_take(&f), val };
            free(ln);
        }
        p += len + (eol ? 1 : 0);
    }
    scry_arena_destroy(a);
    qsort(v, n, sizeof *v, line_cmp);
    *out = v;
    return n;
}

static void free_lines(struct line *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].labels);
    free(v);
}

static bool same_value(double a, double b)
{
    if (isnan(a) && isnan(b))
        return true; /* the parser canonicalises NaN; strtod does not */
    return dbits(a) == dbits(b);
}

static bool is_report(const char *labels)
{
    static const char *const names[] = { "up{", "scrape_duration_seconds{",
                                         "scrape_samples_scraped{",
                                         "scrape_samples_post_metric_relabeling{",
                                         "scrape_series_added{" };
    for (size_t i = 0; i < 5; i++)
        if (strncmp(labels, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static void test_scrape_node_exporter_stored_equals_served(void **state)
{
    (void)state;
    if (access(NODE_EXPORTER, X_OK) != 0)
        fail_msg(NODE_EXPORTER " is missing: install the Debian package "
                 "prometheus-node-exporter (scripts/deps.sh does)");
    int port = free_port();
    char listen[64], url[128], instance[32];
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    snprintf(instance, sizeof instance, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        /* A few slow or noisy collectors off; the rest as packaged. */
        execl(NODE_EXPORTER, NODE_EXPORTER, listen, "--no-collector.systemd",
              "--no-collector.hwmon", "--no-collector.textfile", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    struct scry_buf direct = { 0 };
    long code = -1;
    for (int i = 0; i < 200 && code != 200; i++) {
        code = http_get(url, &direct);
        if (code != 200)
            sleep_ms(50);
    }
    assert_int_equal(code, 200);

    struct cap_store *st = cap_create();
    struct ev ev = { .n = 0 };
    pthread_mutex_init(&ev.mu, NULL);
    struct col_scrape_manager *m;
    struct col_scrape_opts o = { .appendable = &st->base, .on_scrape = on_scrape,
                                 .on_scrape_ud = &ev };
    assert_int_equal(col_scrape_manager_create(&o, &m, NULL), 0);
    struct scry_config *cfg = load_cfg("scrape_configs:\n  - job_name: node\n"
                                       "    scrape_interval: 2s\n    scrape_timeout: 2s\n"
                                       "    static_configs: [{targets: ['%s']}]\n", instance);
    assert_int_equal(col_scrape_manager_apply_config(m, cfg, NULL), 0);
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&ev.mu);
        int n = ev.n;
        pthread_mutex_unlock(&ev.mu);
        if (n)
            break;
        sleep_ms(10);
    }
    col_scrape_manager_destroy(m);
    assert_true(ev.n >= 1);
    if (!ev.up)
        fail_msg("scrape failed: %s", ev.error);
    code = http_get(url, &direct); /* right after, for the stable series */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    assert_int_equal(code, 200);

    /* What the store got at the first scrape's timestamp, minus the report. */
    struct line *got = NULL;
    size_t n_got = 0, cap = 0;
    double up = -1, dur = -1, scraped = -1;
    for (size_t i = 0; i < st->n; i++) {
        struct cap_sample *s = &st->v[i];
        if (s->t_ms != ev.t_ms)
            continue;
        if (is_report(s->labels)) {
            if (strncmp(s->labels, "up{", 3) == 0)
                up = s->v;
            else if (strncmp(s->labels, "scrape_duration_seconds{", 24) == 0)
                dur = s->v;
            else if (strncmp(s->labels, "scrape_samples_scraped{", 23) == 0)
                scraped = s->v;
            continue;
        }
        if (n_got == cap) {
            cap = cap ? cap * 2 : 512;
            got = realloc(got, cap * sizeof *got);
        }
        got[n_got++] = (struct line){ scry_strdup(s->labels), s->v };
    }
    qsort(got, n_got, sizeof *got, line_cmp);
    struct line *want;
    size_t n_want = split_body(ev.body, instance, &want);
    assert_true(n_want > 100);
    if (n_got != n_want)
        fail_msg("stored %zu samples, the body had %zu", n_got, n_want);
    for (size_t i = 0; i < n_want; i++) {
        if (strcmp(got[i].labels, want[i].labels) != 0 || !same_value(got[i].v, want[i].v))
            fail_msg("sample %zu: stored %s %.17g, served %s %.17g", i, got[i].labels, got[i].v,
                     want[i].labels, want[i].v);
    }
    assert_true(up == 1);
    assert_true(dur > 0 && dur < 2);
    assert_true(scraped == (double)n_want);
    assert_int_equal(ev.scraped, n_want);

    /* The stable series of a second, direct fetch were all stored. */
    struct line *d;
    size_t n_d = split_body(direct.p, instance, &d), n_stable = 0;
    for (size_t i = 0; i < n_d; i++) {
        const char *l = d[i].labels;
        const char *brace = strchr(l, '{');
        size_t nl = brace ? (size_t)(brace - l) : strlen(l);
        bool stable = (nl > 5 && strncmp(l + nl - 5, "_info", 5) == 0) ||
                      strncmp(l, "node_cpu_seconds_total{", 23) == 0;
        if (!stable)
            continue;
        n_stable++;
        struct line key = { d[i].labels, 0 };
        if (!bsearch(&key, got, n_got, sizeof *got, line_cmp))
            fail_msg("%s from the direct fetch was not stored", l);
    }
    assert_true(n_stable > 2);
    print_message("node_exporter: %zu samples stored = served, %zu stable series re-checked\n",
                  n_want, n_stable);
    free_lines(d, n_d);
    free_lines(want, n_want);
    free_lines(got, n_got);
    scry_buf_fini(&direct);
    scry_config_destroy(cfg);
    free(ev.body);
    pthread_mutex_destroy(&ev.mu);
    cap_destroy(st);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_node_exporter_stored_equals_served),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
