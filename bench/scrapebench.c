/* scrapebench.c — CPU cost per scraped sample of the scrape manager.
 *
 *     ninja -C build bench/scrapebench && ./build/bench/scrapebench [samples] [scrapes]
 *
 * A core/http target on 127.0.0.1 serves one synthetic text-format body
 * (default 100 000 samples: 1000 families with HELP/TYPE, 3 labels each),
 * gzipped by core/http because the scrape asks for gzip. The manager
 * scrapes it every 500 ms into a store that only counts samples, with and
 * without a metric_relabel_configs rule (drop by a regex that never
 * matches: PCRE2 JIT per sample). Reported per sample, from the scrape
 * thread's own CPU clock: response processing (parse, cache lookup,
 * relabel, append, staleness, commit) for the first scrape (every series
 * is new: labels built and cached) and the steady state; and the whole
 * thread (adds curl's I/O and gunzip). Allocations made by scry's code on
 * the scrape thread are counted per scrape through -Wl,--wrap (curl's own
 * are not counted: they are per request, not per sample). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/scrape.h"
#include "core/config.h"
#include "core/http.h"

/* ---- allocation counting (our code only) ---------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t k);
void *__wrap_realloc(void *p, size_t n);
static _Thread_local uint64_t n_alloc;
void *__wrap_malloc(size_t n) { n_alloc++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { n_alloc++; return __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { n_alloc++; return __real_realloc(p, n); }

/* ---- a counting store ------------------------------------------------------ */

struct nop_app {
    struct scry_appender base;
    uint64_t n;
};

static uint64_t n_appended;

static int nop_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    if (!*ref)
        *ref = scry_labels_hash(ls) | 1;
    ((struct nop_app *)app)->n++;
    return 0;
}

static int nop_commit(struct scry_appender *app, struct scry_err *err)
{
    __atomic_fetch_add(&n_appended, ((struct nop_app *)app)->n, __ATOMIC_RELAXED);
    return 0;
}

static void nop_rollback(struct scry_appender *app) { (void)app; }

static const struct scry_appender_ops nop_ops = {
    .append_sample = nop_append, .commit = nop_commit, .rollback = nop_rollback,
};

/* One appender reused: begin allocates nothing. */
static _Thread_local struct nop_app the_app;

static int nop_begin(struct scry_appendable *s, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    the_app.base.ops = &nop_ops;
    the_app.n = 0;
    *out = &the_app.base;
    return 0;
}

/* ---- the target ------------------------------------------------------------- */

static struct scry_buf body;

static void serve(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    resp->content_type = "text/plain; version=0.0.4";
    scry_buf_put(&resp->body, body.p, body.len);
}

static void synth(int n)
{
    int fams = n / 100;
    for (int f = 0; f < fams; f++) {
        scry_buf_printf(&body, "# HELP fam_%d Synthetic family %d.\n# TYPE fam_%d gauge\n", f, f, f);
        for (int s = 0; s < 100; s++)
            scry_buf_printf(&body, "fam_%d{instance_id=\"i-%04d\",path=\"/api/v%d\",code=\"%d\"} %d.%d\n",
                            f, f % 256, s, 200 + s % 5, s * 7, f);
    }
}

/* ---- runs ------------------------------------------------------------------- */

struct ev {
    pthread_mutex_t mu;
    int n;
    uint64_t alloc[64];
    uint64_t last_alloc;
};

static void on_scrape(void *ud, const struct col_scrape_event *e)
{
    struct ev *ev = ud;
    pthread_mutex_lock(&ev->mu);
    if (ev->n < 64)
        ev->alloc[ev->n] = n_alloc - ev->last_alloc;
    ev->last_alloc = n_alloc;
    ev->n++;
    pthread_mutex_unlock(&ev->mu);
}

static void run(int port, int n_samples, int n_scrapes, const char *extra, const char *name)
{
    struct scry_appendable store = { .begin = nop_begin };
    struct ev ev = { .n = 0 };
    pthread_mutex_init(&ev.mu, NULL);
    struct col_scrape_manager *m;
    struct col_scrape_opts o = { .appendable = &store, .on_scrape = on_scrape, .on_scrape_ud = &ev };
    if (col_scrape_manager_create(&o, &m, NULL) != 0)
        abort();
    char y[1024];
    snprintf(y, sizeof y,
             "scrape_configs:\n  - job_name: bench\n    scrape_interval: 500ms\n"
             "    scrape_timeout: 500ms\n    static_configs: [{targets: ['127.0.0.1:%d']}]\n%s",
             port, extra);
    struct scry_config *cfg;
    struct scry_err err;
    if (scry_config_load_string("bench.yml", y, strlen(y), &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    col_scrape_manager_apply_config(m, cfg, NULL);
    struct col_scrape_stats s1 = { 0 }, s;
    for (;;) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
        col_scrape_manager_stats(m, &s);
        if (s.scrapes_ok == 1 && s1.scrapes_ok == 0)
            s1 = s;
        if (s.scrapes_ok + s.scrapes_failed >= (uint64_t)n_scrapes)
            break;
    }
    col_scrape_manager_destroy(m);
    scry_config_destroy(cfg);
    double steady = (s.cpu_process_s - s1.cpu_process_s) / (double)(s.scrapes_ok - 1) / n_samples;
    double first = s1.cpu_process_s / n_samples;
    double thread = (s.cpu_thread_s - s1.cpu_thread_s) / (double)(s.scrapes_ok - 1) / n_samples;
    uint64_t amax = 0;
    for (int i = 1; i < ev.n && i < 64; i++)
        if (ev.alloc[i] > amax)
            amax = ev.alloc[i];
    printf("%-22s ok %llu failed %llu | first scrape %6.0f ns/sample | steady %5.0f ns/sample"
           " (whole thread %5.0f) | our allocations: first %llu, then <= %llu per scrape\n",
           name, (unsigned long long)s.scrapes_ok, (unsigned long long)s.scrapes_failed,
           first * 1e9, steady * 1e9, thread * 1e9, (unsigned long long)ev.alloc[0],
           (unsigned long long)amax);
    pthread_mutex_destroy(&ev.mu);
}

int main(int argc, char **argv)
{
    int n_samples = argc > 1 ? atoi(argv[1]) : 100000;
    int n_scrapes = argc > 2 ? atoi(argv[2]) : 11;
    synth(n_samples);
    struct scry_http_server *srv;
    struct scry_http_opts ho = { .listen = "127.0.0.1:0" };
    struct scry_err err;
    if (scry_http_server_create(&srv, &ho, &err) != 0)
        abort();
    scry_http_server_route(srv, "GET", "/metrics", serve, NULL, 0);
    scry_http_server_start(srv, &err);
    int port = scry_http_server_port(srv);
    printf("body: %d samples, %zu bytes; %d scrapes per run\n", n_samples, body.len, n_scrapes);
    run(port, n_samples, n_scrapes, "", "plain");
    run(port, n_samples, n_scrapes,
        "    metric_relabel_configs:\n"
        "      - {source_labels: [__name__], regex: 'go_.*|process_.*', action: drop}\n",
        "metric_relabel drop");
    scry_http_server_stop(srv);
    scry_http_server_destroy(srv);
    scry_buf_fini(&body);
    return 0;
}
