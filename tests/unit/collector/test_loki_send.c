/* test_loki_send.c — the agent's log forwarder (collector/loki_send.c,
 * collector/loki_spool.c).
 *
 * The encoder is checked against scry's own push decoder (the one that
 * serves /loki/api/v1/push); the spool by round trips, every truncation
 * and every flipped byte; the sender against a scripted core/http route
 * that decodes what it gets with the same decoder (retries on 503 and
 * 429 with Retry-After, batches bounded by bytes, a 400 "out of order"
 * taken as delivered, recovery of a spool into the catalog, stop). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <snappy-c.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/loki_push.h"
#include "collector/loki_send.h"
#include "core/arena.h"
#include "core/http.h"
#include "core/mem.h"
#include "core/timeparse.h"

/* ---- encoder ---------------------------------------------------------------- */

static const struct scry_label ls_a[] = { { "filename", "/var/log/a \"q\" \\ x\ny.log" },
                                          { "job", "app" } };
static const struct scry_label md_t[] = { { "truncated", "true" } };

static void test_loki_send_encode_roundtrip(void **state)
{
    (void)state;
    const struct scry_labels la = { ls_a, 2 }, lb = { ls_a + 1, 1 };
    const struct scry_log_entry ea[] = {
        { .t_ns = 1700000000123456789LL, .line = { "first", 5 } },
        { .t_ns = 1700000001000000000LL, .line = { "", 0 }, .metadata = { md_t, 1 } },
        { .t_ns = 0, .line = { "zero ✓", 8 } },
    };
    const struct scry_log_entry eb[] = { { .t_ns = -1500000000LL, .line = { "neg", 3 } },
                                         { .t_ns = 999, .line = { "x\ny", 3 } } };
    struct scry_buf b = { 0 };
    col_loki_encode_stream(&b, &la, ea, 3);
    col_loki_encode_stream(&b, &lb, eb, 2);
    struct scry_arena *a = scry_arena_create(0);
    struct col_loki_push p;
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_decode_proto(a, b.p, b.len, &p, &err), 0);
    assert_int_equal(p.n_streams, 2);
    const struct scry_labels *want_ls[] = { &la, &lb };
    const struct scry_log_entry *want_e[] = { ea, eb };
    size_t want_n[] = { 3, 2 };
    for (size_t s = 0; s < 2; s++) {
        const struct col_loki_stream *st = &p.streams[s];
        assert_null(st->labels_error);
        assert_int_equal(st->labels.n, want_ls[s]->n);
        for (size_t i = 0; i < st->labels.n; i++) {
            assert_string_equal(st->labels.v[i].name, want_ls[s]->v[i].name);
            assert_string_equal(st->labels.v[i].value, want_ls[s]->v[i].value);
        }
        assert_int_equal(st->n_entries, want_n[s]);
        for (size_t i = 0; i < st->n_entries; i++) {
            const struct scry_log_entry *g = &st->entries[i], *w = &want_e[s][i];
            assert_int_equal(g->t_ns, w->t_ns);
            assert_int_equal(g->line.len, w->line.len);
            assert_memory_equal(g->line.p, w->line.p, w->line.len);
            assert_int_equal(g->metadata.n, w->metadata.n);
            if (w->metadata.n) {
                assert_string_equal(g->metadata.v[0].name, "truncated");
                assert_string_equal(g->metadata.v[0].value, "true");
            }
        }
    }
    scry_arena_destroy(a);
    scry_buf_fini(&b);
}

/* ---- spool ------------------------------------------------------------------- */

static char g_dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/scry-lsend-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static const struct col_tail_position two_pos[] = {
    { .dev = 2049, .ino = 77, .path = "/var/log/app.log", .fp = 0xfeedface12345678ULL,
      .fp_len = 1024, .off = 123456, .next_t_ns = 1700000000000000010LL,
      .last_t_ns = 1700000000000000009LL, .pinned = false },
    { .dev = 2049, .ino = 78, .path = "/var/log/b.log", .fp = 1, .fp_len = 3, .off = 4,
      .next_t_ns = 5, .last_t_ns = 4, .pinned = true },
};

/* Two pushes as the sender lays them out: { u32 len | bytes } each. */
static void two_pushes(struct scry_buf *out)
{
    const char *bodies[] = { "push one", "second push body" };
    for (int i = 0; i < 2; i++) {
        uint32_t l = (uint32_t)strlen(bodies[i]);
        unsigned char h[4] = { (unsigned char)l, (unsigned char)(l >> 8), 0, 0 };
        scry_buf_put(out, h, 4);
        scry_buf_put(out, bodies[i], l);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *p = scry_malloc(1 << 16);
    *len = fread(p, 1, 1 << 16, f);
    fclose(f);
    return p;
}

static void put_file(const char *path, const char *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static void test_loki_spool_roundtrip_truncation_and_damage(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/spool", g_dir);
    struct col_loki_spool sp;
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_spool_read(path, &sp, &err), SCRY_ENOTFOUND);
    struct scry_buf pushes = { 0 };
    two_pushes(&pushes);
    assert_int_equal(col_loki_spool_write(path, two_pos, 2, pushes.p, pushes.len, 2, &err), 0);
    assert_int_equal(access(path, F_OK), 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* renamed into place */
    assert_int_equal(col_loki_spool_read(path, &sp, &err), 0);
    assert_int_equal(sp.n_pos, 2);
    assert_int_equal(sp.n_push, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct col_tail_position *g = &sp.pos[i], *w = &two_pos[i];
        assert_int_equal(g->dev, w->dev);
        assert_int_equal(g->ino, w->ino);
        assert_string_equal(g->path, w->path);
        assert_true(g->fp == w->fp);
        assert_int_equal(g->fp_len, w->fp_len);
        assert_int_equal(g->off, w->off);
        assert_int_equal(g->next_t_ns, w->next_t_ns);
        assert_int_equal(g->last_t_ns, w->last_t_ns);
        assert_int_equal(g->pinned, w->pinned);
    }
    assert_int_equal(sp.push[0].len, 8);
    assert_memory_equal(sp.push[0].p, "push one", 8);
    assert_int_equal(sp.push[1].len, 16);
    assert_memory_equal(sp.push[1].p, "second push body", 16);
    col_loki_spool_fini(&sp);

    /* A crash can leave any prefix (the tmp file, or a disk that lost the
     * tail): every one is rejected, none crashes. */
    size_t len;
    char *full = slurp(path, &len);
    for (size_t cut = 0; cut < len; cut++) {
        put_file(path, full, cut);
        assert_int_equal(col_loki_spool_read(path, &sp, &err), SCRY_ECORRUPT);
        assert_null(sp.pos);
    }
    /* Any flipped byte too (the CRC, or the structure checks behind it). */
    for (size_t i = 0; i < len; i++) {
        full[i] ^= 0x40;
        assert_int_equal(col_loki_spool_parse(full, len, &sp, &err), SCRY_ECORRUPT);
        full[i] ^= 0x40;
    }
    assert_int_equal(col_loki_spool_parse(full, len, &sp, &err), 0);
    col_loki_spool_fini(&sp);
    free(full);
    scry_buf_fini(&pushes);
}

/* ---- sender against a scripted receiver ----------------------------------------- */

#define MAX_SCRIPT 16

struct script {
    pthread_mutex_t mu;
    int status[MAX_SCRIPT];
    const char *body[MAX_SCRIPT];
    const char *retry_after[MAX_SCRIPT];
    size_t n, next;   /* after the script: 204 (or always_503) */
    bool always_503;
    size_t n_calls;
    double at_s[MAX_SCRIPT];
    size_t max_body;  /* largest decompressed push */
    char tenant[32], ctype[64];
    struct scry_buf got; /* "t_ns labels line\n" per entry received */
};

static void script_handler(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct script *s = ud;
    pthread_mutex_lock(&s->mu);
    size_t i = s->next < s->n ? s->next++ : s->n;
    if (s->n_calls < MAX_SCRIPT)
        s->at_s[s->n_calls] = scry_mono_s();
    s->n_calls++;
    const char *h;
    if ((h = scry_http_header(req, "X-Scope-OrgID")))
        snprintf(s->tenant, sizeof s->tenant, "%s", h);
    if ((h = scry_http_header(req, "Content-Type")))
        snprintf(s->ctype, sizeof s->ctype, "%s", h);
    int status = i < s->n ? s->status[i] : s->always_503 ? 503 : 204;
    size_t ulen = 0;
    if (status == 204 && snappy_uncompressed_length(req->body, req->body_len, &ulen) == SNAPPY_OK) {
        char *u = scry_malloc(ulen ? ulen : 1);
        assert_int_equal(snappy_uncompress(req->body, req->body_len, u, &ulen), SNAPPY_OK);
        if (ulen > s->max_body)
            s->max_body = ulen;
        struct scry_arena *a = scry_arena_create(0);
        struct col_loki_push p;
        assert_int_equal(col_loki_decode_proto(a, u, ulen, &p, NULL), 0);
        for (size_t k = 0; k < p.n_streams; k++)
            for (size_t e = 0; e < p.streams[k].n_entries; e++) {
                const struct scry_log_entry *en = &p.streams[k].entries[e];
                scry_buf_printf(&s->got, "%lld %s %.*s\n", (long long)en->t_ns,
                                p.streams[k].labels.v[0].value, (int)en->line.len, en->line.p);
            }
        scry_arena_destroy(a);
        free(u);
    }
    resp->status = status;
    resp->content_type = "text/plain";
    if (i < s->n && s->retry_after[i])
        scry_http_resp_header(resp, "Retry-After", s->retry_after[i]);
    if (status >= 400)
        scry_buf_puts(&resp->body, i < s->n && s->body[i] ? s->body[i] : "scripted failure");
    pthread_mutex_unlock(&s->mu);
}

struct fx {
    struct scry_http_server *srv;
    struct script script;
    char url[128];
};

static int setup(void **state)
{
    make_dir(state);
    struct fx *f = scry_calloc(1, sizeof *f);
    struct scry_err err = { 0 };
    pthread_mutex_init(&f->script.mu, NULL);
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&f->srv, &o, &err), 0);
    scry_http_server_route(f->srv, "POST", "/loki/api/v1/push", script_handler, &f->script, 0);
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/loki/api/v1/push",
             scry_http_server_port(f->srv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    scry_http_server_stop(f->srv);
    scry_http_server_destroy(f->srv);
    scry_buf_fini(&f->script.got);
    pthread_mutex_destroy(&f->script.mu);
    free(f);
    return remove_dir(state);
}

static struct col_loki_send *open_sender(struct fx *f, size_t batch_bytes)
{
    struct col_loki_send_opts o = {
        .url = f->url, .dir = g_dir, .tenant = "team-a", .batch_bytes = batch_bytes,
        .min_backoff_ms = 20, .max_backoff_ms = 100,
    };
    struct col_loki_send *s = NULL;
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_send_open(&s, &o, &err), 0);
    return s;
}

static void append(struct scry_appender *app, const char *job, int64_t t, const char *line)
{
    struct scry_label l[] = { { "job", job } };
    struct scry_labels ls = { l, 1 };
    struct scry_log_entry e = { .t_ns = t, .line = { line, strlen(line) } };
    assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
}

static void test_loki_send_retries_then_delivers(void **state)
{
    struct fx *f = *state;
    f->script.status[0] = 503;
    f->script.status[1] = 429;
    f->script.retry_after[1] = "1";
    f->script.n = 2;
    struct col_loki_send *s = open_sender(f, 0);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(col_loki_send_appendable(s), NULL, &app, NULL), 0);
    append(app, "a", 10, "one");
    append(app, "a", 11, "two");
    append(app, "b", 12, "three");
    col_loki_send_on_checkpoint(s, two_pos, 2, false);
    struct scry_err err = { 0 };
    assert_int_equal(scry_appender_commit(app, &err), 0);
    assert_int_equal(f->script.n_calls, 3);
    assert_true(f->script.at_s[2] - f->script.at_s[1] >= 0.9); /* Retry-After: 1 */
    assert_string_equal(f->script.got.p, "10 a one\n11 a two\n12 b three\n");
    assert_string_equal(f->script.tenant, "team-a");
    assert_string_equal(f->script.ctype, "application/x-protobuf");
    struct col_loki_send_stats st;
    col_loki_send_stats(s, &st);
    assert_int_equal(st.entries_sent, 3);
    assert_int_equal(st.entries_failed, 6);
    assert_int_equal(st.entries_retried, 6);
    assert_int_equal(st.entries_dropped, 0);
    assert_int_equal(st.requests, 3);
    /* The spool stays until the checkpoints are written. */
    char path[128];
    snprintf(path, sizeof path, "%s/spool", g_dir);
    assert_int_equal(access(path, F_OK), 0);
    col_loki_send_on_checkpoint(s, NULL, 0, true);
    assert_int_not_equal(access(path, F_OK), 0);
    col_loki_send_close(s);
}

static void test_loki_send_batches_bounded_by_bytes(void **state)
{
    struct fx *f = *state;
    struct col_loki_send *s = open_sender(f, 2048);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(col_loki_send_appendable(s), NULL, &app, NULL), 0);
    char line[128], want[16384];
    size_t wl = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof line, "%03d %s", i, "abcdefghijklmnopqrstuvwxyz0123456789abcdefghij"
                                                  "klmnopqrstuvwxyz0123456789");
        append(app, i % 2 ? "a" : "b", 1000 + i, line);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%d %s %s\n", 1000 + i,
                               i % 2 ? "a" : "b", line);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    assert_true(f->script.n_calls >= 5);
    assert_true(f->script.max_body <= 2048);
    assert_string_equal(f->script.got.p, want); /* order kept across streams and pushes */
    col_loki_send_close(s);
}

static int64_t catalog_off(const char *db_path, uint64_t ino)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT off FROM tail_positions WHERE ino = ?", -1, &q,
                                        NULL), SQLITE_OK);
    sqlite3_bind_int64(q, 1, (sqlite3_int64)ino);
    int64_t off = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return off;
}

static void test_loki_send_recover_resends_and_moves_positions(void **state)
{
    struct fx *f = *state;
    /* The first resend is refused as already stored (what scry answers
     * for entries older than the stream's newest): delivered anyway. */
    f->script.status[0] = 400;
    f->script.body[0] = "2 of 2 entries rejected (0 written); first: stream 0 entry 0 "
                        "(timestamp 5): entry out of order";
    f->script.n = 1;
    struct scry_buf pushes = { 0 }, one = { 0 };
    const struct scry_label l[] = { { "job", "r" } };
    const struct scry_labels ls = { l, 1 };
    const struct scry_log_entry e[] = { { .t_ns = 5, .line = { "five", 4 } },
                                        { .t_ns = 6, .line = { "six", 3 } } };
    for (int i = 0; i < 2; i++) {
        scry_buf_reset(&one);
        col_loki_encode_stream(&one, &ls, &e[i], 1);
        unsigned char h[4] = { (unsigned char)one.len, 0, 0, 0 };
        scry_buf_put(&pushes, h, 4);
        scry_buf_put(&pushes, one.p, one.len);
    }
    char spool[128], cat[128];
    snprintf(spool, sizeof spool, "%s/spool", g_dir);
    snprintf(cat, sizeof cat, "%s/catalog.db", g_dir);
    struct scry_err err = { 0 };
    assert_int_equal(col_loki_spool_write(spool, two_pos, 2, pushes.p, pushes.len, 2, &err), 0);
    struct col_loki_send *s = open_sender(f, 0);
    assert_int_equal(col_loki_send_recover(s, cat, &err), 0);
    assert_int_equal(f->script.n_calls, 2);
    assert_string_equal(f->script.got.p, "6 r six\n");
    assert_int_not_equal(access(spool, F_OK), 0);
    assert_int_equal(catalog_off(cat, 77), 123456);
    assert_int_equal(catalog_off(cat, 78), 4);
    struct col_loki_send_stats st;
    col_loki_send_stats(s, &st);
    assert_int_equal(st.entries_dropped, 1); /* min(2 rejected, 1 in the push) */
    assert_int_equal(st.entries_sent, 1);
    assert_int_equal(st.spools_recovered, 1);
    /* Nothing left: a second recover does nothing. */
    assert_int_equal(col_loki_send_recover(s, cat, &err), 0);
    assert_int_equal(f->script.n_calls, 2);
    /* A damaged spool is removed, not sent. */
    put_file(spool, "SCRYLSP1garbage", 15);
    assert_int_equal(col_loki_send_recover(s, cat, &err), 0);
    assert_int_not_equal(access(spool, F_OK), 0);
    assert_int_equal(f->script.n_calls, 2);
    col_loki_send_close(s);
    scry_buf_fini(&pushes);
    scry_buf_fini(&one);
}

struct stopper {
    struct col_loki_send *s;
};

static void *stop_later(void *arg)
{
    struct stopper *st = arg;
    usleep(300 * 1000);
    col_loki_send_stop(st->s, 0);
    return NULL;
}

static void test_loki_send_stop_gives_up_and_keeps_the_spool(void **state)
{
    struct fx *f = *state;
    f->script.always_503 = true;
    struct col_loki_send *s = open_sender(f, 0);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(col_loki_send_appendable(s), NULL, &app, NULL), 0);
    append(app, "a", 10, "one");
    col_loki_send_on_checkpoint(s, two_pos, 1, false);
    pthread_t t;
    struct stopper st = { s };
    pthread_create(&t, NULL, stop_later, &st);
    double t0 = scry_mono_s();
    struct scry_err err = { 0 };
    assert_int_equal(scry_appender_commit(app, &err), SCRY_EIO);
    assert_true(scry_mono_s() - t0 < 5);
    pthread_join(t, NULL);
    assert_true(f->script.n_calls >= 2);
    char spool[128];
    snprintf(spool, sizeof spool, "%s/spool", g_dir);
    struct col_loki_spool sp;
    assert_int_equal(col_loki_spool_read(spool, &sp, &err), 0);
    assert_int_equal(sp.n_pos, 1);
    assert_int_equal(sp.n_push, 1);
    col_loki_spool_fini(&sp);
    col_loki_send_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loki_send_encode_roundtrip),
        cmocka_unit_test_setup_teardown(test_loki_spool_roundtrip_truncation_and_damage, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_loki_send_retries_then_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loki_send_batches_bounded_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loki_send_recover_resends_and_moves_positions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loki_send_stop_gives_up_and_keeps_the_spool, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
