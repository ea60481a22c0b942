/* test_rw_queue.c — the agent's remote_write queue (collector/rw_queue*.c).
 *
 * Deliveries go to scry's real remote_write receiver (col_rw_register on a
 * core/http server), appending into a store that records what it got, so
 * the bytes the queue builds are checked by the decoder that serves
 * production traffic. Fault injection (status codes, Retry-After) uses a
 * small scripted route on the same core/http server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "collector/remote_write.h"
#include "collector/rw_queue.h"
#include "core/config.h"
#include "core/http.h"
#include "core/mem.h"
#include "core/timeparse.h"

/* ---- a store that records every sample ------------------------------------ */

#define MAX_GOT 4096

struct got {
    char series[160];
    int64_t t_ms;
    uint64_t bits;
};

struct rec_store {
    struct scry_appendable a; /* first */
    pthread_mutex_t mu;
    struct got v[MAX_GOT];
    size_t n;
};

struct rec_app {
    struct scry_appender app;
    struct rec_store *s;
};

static int rec_append(struct scry_appender *app, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct rec_store *s = ((struct rec_app *)app)->s;
    struct scry_buf b = { 0 };
    scry_labels_format(ls, &b);
    scry_buf_putc(&b, 0);
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_GOT) {
        struct got *g = &s->v[s->n++];
        snprintf(g->series, sizeof g->series, "%s", b.p);
        g->t_ms = t_ms;
        memcpy(&g->bits, &v, 8);
    }
    pthread_mutex_unlock(&s->mu);
    scry_buf_fini(&b);
    return 0;
}

static int rec_commit(struct scry_appender *app, struct scry_err *err)
{
    free(app);
    return 0;
}

static void rec_rollback(struct scry_appender *app)
{
    free(app);
}

static const struct scry_appender_ops rec_ops = {
    .append_sample = rec_append, .commit = rec_commit, .rollback = rec_rollback,
};

static int rec_begin(struct scry_appendable *store, const char *tenant, struct scry_appender **out,
                     struct scry_err *err)
{
    struct rec_app *a = scry_calloc(1, sizeof *a);
    a->app.ops = &rec_ops;
    a->s = (struct rec_store *)store;
    *out = &a->app;
    return 0;
}

/* ---- a scripted route for fault injection ---------------------------------- */

#define MAX_SCRIPT 8

struct script {
    pthread_mutex_t mu;
    int status[MAX_SCRIPT];
    const char *retry_after[MAX_SCRIPT];
    size_t n, next; /* after the script: 204 */
    double at_s[32];
    char attempt_hdr[32][8];
    size_t n_calls;
    char ua[64], version[32], encoding[32], ctype[64];
    size_t body_series;
};

static void script_handler(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct script *s = ud;
    pthread_mutex_lock(&s->mu);
    size_t i = s->next < s->n ? s->next++ : s->n;
    if (s->n_calls < 32) {
        s->at_s[s->n_calls] = scry_mono_s();
        const char *ra = scry_http_header(req, "Retry-Attempt");
        snprintf(s->attempt_hdr[s->n_calls], 8, "%s", ra ? ra : "");
        s->n_calls++;
    }
    const char *h;
    if ((h = scry_http_header(req, "User-Agent")))
        snprintf(s->ua, sizeof s->ua, "%s", h);
    if ((h = scry_http_header(req, "X-Prometheus-Remote-Write-Version")))
        snprintf(s->version, sizeof s->version, "%s", h);
    if ((h = scry_http_header(req, "Content-Encoding")))
        snprintf(s->encoding, sizeof s->encoding, "%s", h);
    if ((h = scry_http_header(req, "Content-Type")))
        snprintf(s->ctype, sizeof s->ctype, "%s", h);
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    if (col_rw_decode(&d, req->body, req->body_len, NULL, NULL, NULL) == 0)
        s->body_series += d.n_series;
    col_rw_decoder_fini(&d);
    resp->status = i < s->n ? s->status[i] : 204;
    resp->content_type = "text/plain";
    if (i < s->n && s->retry_after[i])
        scry_http_resp_header(resp, "Retry-After", s->retry_after[i]);
    if (resp->status >= 400)
        scry_buf_puts(&resp->body, "scripted failure");
    pthread_mutex_unlock(&s->mu);
}

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
    struct scry_http_server *srv;
    struct col_rw *rw;
    struct rec_store store;
    struct script script;
    int port;
    char dir[64];
    struct scry_config *cfg;
};

static int setup(void **state)
{
    struct fx *f = scry_calloc(1, sizeof *f);
    struct scry_err err = { 0 };
    pthread_mutex_init(&f->store.mu, NULL);
    pthread_mutex_init(&f->script.mu, NULL);
    f->store.a.begin = rec_begin;
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&f->srv, &o, &err), 0);
    assert_int_equal(col_rw_register(&f->rw, f->srv, &f->store.a, &(struct col_rw_opts){ 0 }, &err),
                     0);
    scry_http_server_route(f->srv, "POST", "/scripted", script_handler, &f->script, 0);
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    f->port = scry_http_server_port(f->srv);
    snprintf(f->dir, sizeof f->dir, "/tmp/scry-rwq-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    col_rw_destroy(f->rw);
    scry_config_destroy(f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&f->store.mu);
    pthread_mutex_destroy(&f->script.mu);
    free(f);
    return 0;
}

/* Loads a remote_write config for url (path on our server) with extra keys. */
static const struct scry_remote_write_config *rw_cfg(struct fx *f, const char *url,
                                                      const char *extra)
{
    char y[2048];
    snprintf(y, sizeof y,
             "global: {external_labels: {agent: a1}}\n"
             "remote_write:\n  - url: '%s'\n%s",
             url, extra ? extra : "");
    struct scry_err err = { 0 };
    scry_config_destroy(f->cfg);
    f->cfg = NULL;
    if (scry_config_load_string("test.yml", y, strlen(y), &f->cfg, &err) != 0)
        fail_msg("config: %s", err.msg);
    return &f->cfg->remote_write[0];
}

static struct col_rwq *open_q(struct fx *f, const struct scry_remote_write_config *c,
                              uint32_t shards)
{
    struct col_rwq *q = NULL;
    struct scry_err err = { 0 };
    struct col_rwq_opts o = {
        .cfg = c, .dir = f->dir, .external_labels = &f->cfg->global.external_labels,
        .n_shards = shards, .segment_bytes = 4096,
    };
    if (col_rwq_open(&q, &o, &err) != 0)
        fail_msg("open: %s", err.msg);
    return q;
}

/* One commit: n series of one sample each at t_ms (value = series index). */
static void commit_scrape(struct col_rwq *q, int n, int64_t t_ms)
{
    struct scry_appender *app = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(scry_appender_begin(col_rwq_appendable(q), NULL, &app, &err), 0);
    for (int i = 0; i < n; i++) {
        char inst[16];
        snprintf(inst, sizeof inst, "i%02d", i);
        struct scry_label l[] = { { "__name__", i % 5 == 4 ? "go_gc" : "m" },
                                  { "instance", inst }, { "job", "j" } };
        struct scry_labels ls = { l, 3 };
        double v = i == 1 ? NAN : (double)i + (double)t_ms / 1e6;
        if (i == 1) { /* the staleness marker must keep its bits */
            uint64_t stale = 0x7ff0000000000002ULL;
            memcpy(&v, &stale, 8);
        }
        uint64_t ref = 0;
        assert_int_equal(scry_append_sample(app, &ref, &ls, t_ms, v, &err), 0);
    }
    assert_int_equal(scry_appender_commit(app, &err), 0);
}

static size_t count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strlen(e->d_name) == 8 && e->d_name[0] >= '0' && e->d_name[0] <= '9';
    if (d)
        closedir(d);
    return n;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_rw_queue_classify(void **state)
{
    assert_int_equal(col_rwq_classify(200, true, true), COL_RWQ_OK);
    assert_int_equal(col_rwq_classify(204, true, false), COL_RWQ_OK);
    assert_int_equal(col_rwq_classify(500, true, false), COL_RWQ_RETRY);
    assert_int_equal(col_rwq_classify(503, true, false), COL_RWQ_RETRY);
    assert_int_equal(col_rwq_classify(429, true, true), COL_RWQ_RETRY);
    assert_int_equal(col_rwq_classify(429, true, false), COL_RWQ_DROP);
    assert_int_equal(col_rwq_classify(400, true, true), COL_RWQ_DROP);
    assert_int_equal(col_rwq_classify(404, true, true), COL_RWQ_DROP);
    assert_int_equal(col_rwq_classify(413, true, true), COL_RWQ_DROP);
    assert_int_equal(col_rwq_classify(302, true, true), COL_RWQ_DROP);
    assert_int_equal(col_rwq_classify(0, false, false), COL_RWQ_RETRY);
}

static void test_rw_queue_retry_after_parsing(void **state)
{
    int64_t now = 1445412480000; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(col_rwq_retry_after_ms(NULL, now), -1);
    assert_int_equal(col_rwq_retry_after_ms("", now), -1);
    assert_int_equal(col_rwq_retry_after_ms("3", now), 3000);
    assert_int_equal(col_rwq_retry_after_ms(" 120\r\n", now), 120000);
    assert_int_equal(col_rwq_retry_after_ms("3s", now), -1);
    assert_int_equal(col_rwq_retry_after_ms("soon", now), -1);
    assert_int_equal(col_rwq_retry_after_ms("Wed, 21 Oct 2015 07:28:10 GMT", now), 10000);
    assert_int_equal(col_rwq_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT\r\n", now), 0);
    assert_int_equal(col_rwq_retry_after_ms("Wed, 21 Oct 2015 07:28:10 XYZ", now), -1);
}

static void test_rw_queue_delivers_every_sample_in_order(void **state)
{
    struct fx *f = *state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", f->port);
    const struct scry_remote_write_config *c = rw_cfg(
        f, url,
        "    write_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]\n"
        "    queue_config: {max_samples_per_send: 3, batch_send_deadline: 50ms}\n");
    struct col_rwq *q = open_q(f, c, 3);
    for (int k = 0; k < 20; k++)
        commit_scrape(q, 10, 1000000 + k * 1000);
    assert_int_equal(col_rwq_flush(q, 10000), 0);
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_in, 20 * 8); /* 2 of 10 relabelled away */
    assert_int_equal(st.samples_sent, 20 * 8);
    assert_int_equal(st.samples_pending, 0);
    assert_int_equal(st.samples_dropped, 0);
    assert_int_equal(st.shards, 3);
    assert_int_equal(st.acked_seq, st.next_seq);
    assert_int_equal(st.highest_sent_ms, 1000000 + 19 * 1000);
    pthread_mutex_lock(&f->store.mu);
    assert_int_equal(f->store.n, 20 * 8);
    /* Per series, timestamps arrive in commit order; labels carry the
     * external label; the stale NaN keeps its bit pattern. */
    for (size_t i = 0; i < f->store.n; i++) {
        const struct got *g = &f->store.v[i];
        assert_non_null(strstr(g->series, "agent=\"a1\""));
        assert_null(strstr(g->series, "go_gc"));
        for (size_t j = i + 1; j < f->store.n; j++)
            if (!strcmp(g->series, f->store.v[j].series))
                assert_true(f->store.v[j].t_ms > g->t_ms);
        if (strstr(g->series, "\"i01\""))
            assert_true(g->bits == 0x7ff0000000000002ULL);
        else if (strstr(g->series, "\"i02\""))
            assert_true(g->bits != 0x7ff0000000000002ULL);
    }
    pthread_mutex_unlock(&f->store.mu);
    assert_int_equal(col_rwq_close(q, NULL), 0);
    /* Everything was acknowledged: a reopen resends nothing. */
    q = open_q(f, c, 2);
    col_rwq_stats(q, &st);
    assert_int_equal(st.replayed_records, 0);
    assert_int_equal(st.samples_pending, 0);
    assert_true(count_segments(f->dir) <= 1);
    assert_int_equal(col_rwq_close(q, NULL), 0);
}

static void test_rw_queue_restart_resends_what_was_not_acknowledged(void **state)
{
    struct fx *f = *state;
    char dead[128], url[128];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/api/v1/write", free_port());
    const struct scry_remote_write_config *c =
        rw_cfg(f, dead, "    queue_config: {batch_send_deadline: 10ms, min_backoff: 5ms, "
                        "max_backoff: 20ms, capacity: 10}\n");
    struct col_rwq *q = open_q(f, c, 2);
    for (int k = 0; k < 30; k++) /* ~7 KB: several 4 KiB segments */
        commit_scrape(q, 3, 5000 + k);
    assert_int_equal(col_rwq_flush(q, 200), SCRY_ETIMEOUT);
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_pending, 90);
    assert_true(st.samples_in_memory <= 20 + 3); /* capacity 10 x 2 shards, + one record */
    assert_true(st.samples_retried > 0);
    assert_int_equal(st.samples_sent, 0);
    assert_int_equal(col_rwq_close(q, NULL), 0);
    assert_true(count_segments(f->dir) > 1);

    /* Same queue directory, now with a receiver: everything arrives. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", f->port);
    c = rw_cfg(f, url, "    queue_config: {batch_send_deadline: 10ms, capacity: 4}\n");
    q = open_q(f, c, 4);
    col_rwq_stats(q, &st);
    assert_int_equal(st.replayed_records, 30); /* capacity 4 x 4 shards: most stay on disk */
    assert_int_equal(col_rwq_flush(q, 10000), 0);
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_sent, 90);
    assert_true(st.disk_loads >= 3); /* 75 samples read back in pieces of ~16 */
    assert_int_equal(st.samples_in_memory, 0);
    assert_int_equal(col_rwq_close(q, NULL), 0);
    pthread_mutex_lock(&f->store.mu);
    assert_int_equal(f->store.n, 90);
    pthread_mutex_unlock(&f->store.mu);
    assert_true(count_segments(f->dir) <= 1);
    /* A damaged acknowledged position resends (duplicates are harmless). */
    char p[128];
    snprintf(p, sizeof p, "%s/acked", f->dir);
    FILE *fp = fopen(p, "w");
    fputs("garbage", fp);
    fclose(fp);
    q = open_q(f, c, 1);
    assert_int_equal(col_rwq_close(q, NULL), 0);
}

/* More than the memory bound while the receiver keeps up only later: the
 * backlog beyond capacity is read back from the WAL, in order. */
static void test_rw_queue_backlog_beyond_capacity_is_read_from_disk(void **state)
{
    struct fx *f = *state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", f->port);
    const struct scry_remote_write_config *c = rw_cfg(
        f, url, "    queue_config: {batch_send_deadline: 1h, capacity: 25, "
                "max_samples_per_send: 7}\n");
    struct col_rwq *q = open_q(f, c, 2); /* budget 50 samples */
    for (int k = 0; k < 200; k++)
        commit_scrape(q, 10, 1000 + k * 10);
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    assert_true(st.samples_in_memory <= 50 + 10); /* the budget, overshot by one record at most */
    assert_int_equal(col_rwq_flush(q, 20000), 0);
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_sent, 2000);
    assert_true(st.disk_loads > 10);
    assert_int_equal(col_rwq_close(q, NULL), 0);
    pthread_mutex_lock(&f->store.mu);
    assert_int_equal(f->store.n, 2000);
    int64_t last[10];
    for (int i = 0; i < 10; i++)
        last[i] = 0;
    for (size_t i = 0; i < f->store.n; i++) {
        const char *p = strstr(f->store.v[i].series, "\"i0");
        assert_non_null(p);
        int k = p[3] - '0';
        assert_true(f->store.v[i].t_ms > last[k]); /* per series, in order */
        last[k] = f->store.v[i].t_ms;
    }
    pthread_mutex_unlock(&f->store.mu);
}

static void test_rw_queue_retries_5xx_and_429_honours_retry_after_drops_4xx(void **state)
{
    struct fx *f = *state;
    struct script *s = &f->script;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/scripted", f->port);
    const struct scry_remote_write_config *c =
        rw_cfg(f, url, "    queue_config: {batch_send_deadline: 10ms, min_backoff: 10ms, "
                       "max_backoff: 40ms, max_samples_per_send: 100}\n");
    pthread_mutex_lock(&s->mu);
    s->status[0] = 503; s->retry_after[0] = "1";
    s->status[1] = 500;
    s->status[2] = 429;
    s->status[3] = 204;
    s->status[4] = 400; /* the second batch is refused */
    s->n = 5;
    pthread_mutex_unlock(&s->mu);
    struct col_rwq *q = open_q(f, c, 1);
    commit_scrape(q, 4, 1000);
    assert_int_equal(col_rwq_flush(q, 10000), 0);
    commit_scrape(q, 4, 2000);
    assert_int_equal(col_rwq_flush(q, 10000), 0);
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_sent, 4);
    assert_int_equal(st.samples_retried, 12);  /* 3 retried attempts of 4 */
    assert_int_equal(st.samples_failed, 16);   /* and the refused one */
    assert_int_equal(st.samples_dropped, 4);
    assert_int_equal(st.samples_pending, 0);
    assert_int_equal(st.requests, 5);
    assert_int_equal(col_rwq_close(q, NULL), 0);
    pthread_mutex_lock(&s->mu);
    assert_int_equal(s->n_calls, 5);
    /* Retry-After: 1 beat min_backoff (10 ms); then backoff 10 ms, 20 ms. */
    assert_true(s->at_s[1] - s->at_s[0] >= 0.95);
    assert_true(s->at_s[2] - s->at_s[1] < 0.5);
    assert_string_equal(s->attempt_hdr[0], "");
    assert_string_equal(s->attempt_hdr[1], "1");
    assert_string_equal(s->attempt_hdr[3], "3");
    assert_string_equal(s->version, "0.1.0");
    assert_string_equal(s->encoding, "snappy");
    assert_string_equal(s->ctype, "application/x-protobuf");
    assert_true(strncmp(s->ua, "scry/", 5) == 0);
    assert_int_equal(s->body_series, 5 * 4); /* every attempt carried the whole batch */
    pthread_mutex_unlock(&s->mu);
}

static void test_rw_queue_429_dropped_when_not_retried(void **state)
{
    struct fx *f = *state;
    struct script *s = &f->script;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/scripted", f->port);
    const struct scry_remote_write_config *c =
        rw_cfg(f, url, "    queue_config: {batch_send_deadline: 10ms, retry_on_http_429: false}\n");
    pthread_mutex_lock(&s->mu);
    s->status[0] = 429;
    s->n = 1;
    pthread_mutex_unlock(&s->mu);
    struct col_rwq *q = open_q(f, c, 1);
    commit_scrape(q, 2, 1000);
    assert_int_equal(col_rwq_flush(q, 10000), 0);
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    assert_int_equal(st.samples_dropped, 2);
    assert_int_equal(st.samples_retried, 0);
    assert_int_equal(st.requests, 1);
    assert_int_equal(col_rwq_close(q, NULL), 0);
}

static void test_rw_queue_dir_name_is_stable(void **state)
{
    char a[17], b[17];
    col_rwq_dir_name("http://127.0.0.1:9090/api/v1/write", a);
    col_rwq_dir_name("http://127.0.0.1:9090/api/v1/write", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 16);
    col_rwq_dir_name("http://127.0.0.1:9091/api/v1/write", b);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rw_queue_classify),
        cmocka_unit_test(test_rw_queue_retry_after_parsing),
        cmocka_unit_test(test_rw_queue_dir_name_is_stable),
        cmocka_unit_test_setup_teardown(test_rw_queue_delivers_every_sample_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rw_queue_restart_resends_what_was_not_acknowledged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_queue_backlog_beyond_capacity_is_read_from_disk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_rw_queue_retries_5xx_and_429_honours_retry_after_drops_4xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_queue_429_dropped_when_not_retried, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
