/* logql_fixture.h — shared by the test_logql_*.c files: a real log store in
 * a temp dir, appending entries, running LogQL and rendering the results as
 * text for exact comparisons. */
#ifndef SCRY_TEST_LOGQL_FIXTURE_H
#define SCRY_TEST_LOGQL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/appender.h"
#include "logstore/logstore.h"
#include "query/logql.h"

#define SEC 1000000000LL

static char fx_dir[128];
static int64_t fx_interval_ns; /* fx_logs: Loki's `interval` */
static struct ls_store *fx_st;

static __attribute__((unused)) int fx_setup(void **state)
{
    (void)state;
    snprintf(fx_dir, sizeof fx_dir, "/tmp/scry_test_lql_XXXXXX");
    if (!mkdtemp(fx_dir))
        return -1;
    struct ls_opts o = { .data_dir = fx_dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    struct scry_err err = { 0 };
    if (ls_open(&fx_st, &o, &err)) {
        fprintf(stderr, "ls_open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static __attribute__((unused)) int fx_teardown(void **state)
{
    (void)state;
    ls_close(fx_st);
    fx_st = NULL;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx_dir);
    return system(cmd);
}

/* Parses "{a=\"b\", c=\"d\"}"-free label text "a=b,c=d" into a sorted set. */
static __attribute__((unused)) struct scry_labels fx_labels(struct scry_arena *a, const char *text)
{
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    char *s = scry_arena_strdup(a, text), *save = NULL;
    for (char *p = strtok_r(s, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = 0;
        scry_labels_builder_set(&b, p, eq + 1);
    }
    return scry_labels_builder_labels(&b);
}

/* Appends one entry at t_s seconds (+ns) to stream `labels`, with optional
 * structured metadata "k=v,...". */
static __attribute__((unused)) void fx_append(const char *labels, int64_t t_ns, const char *line, const char *meta)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(fx_st), NULL, &app, NULL), 0);
    struct scry_labels ls = fx_labels(a, labels);
    struct scry_log_entry e = { .t_ns = t_ns, .line = scry_str_c(line) };
    if (meta)
        e.metadata = fx_labels(a, meta);
    uint64_t ref = 0;
    struct scry_err err = { 0 };
    int rc = scry_append_log(app, &ref, &ls, &e, &err);
    if (rc)
        fail_msg("append: %s", err.msg);
    assert_int_equal(scry_appender_commit(app, &err), 0);
    scry_arena_destroy(a);
}

static __attribute__((unused)) void fx_labels_text(const struct scry_labels *ls, struct scry_buf *b)
{
    scry_buf_putc(b, '{');
    for (size_t i = 0; i < ls->n; i++)
        scry_buf_printf(b, "%s%s=%s", i ? "," : "", ls->v[i].name, ls->v[i].value);
    scry_buf_putc(b, '}');
}

/* Renders a log query: one line per entry, "{labels} t_s line". */
static __attribute__((unused)) char *fx_logs(const char *q, int64_t start, int64_t end, uint64_t limit, bool backward)
{
    static char out[65536];
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(a, q, strlen(q), &e, &err))
        fail_msg("parse %s: %s", q, err.msg);
    struct lql_result r;
    struct lql_opts o = { .interval_ns = fx_interval_ns };
    int rc = lql_eval_logs(&o, ls_queryable(fx_st), e, start, end, limit, backward, a, &r, &err);
    struct scry_buf b;
    scry_buf_init(&b);
    if (rc) {
        scry_buf_printf(&b, "error: %s", err.msg);
    } else {
        for (size_t i = 0; i < r.n_streams; i++)
            for (size_t k = 0; k < r.streams[i].n_entries; k++) {
                fx_labels_text(&r.streams[i].labels, &b);
                const struct lql_out_entry *en = &r.streams[i].entries[k];
                scry_buf_printf(&b, " %lld %.*s\n", (long long)(en->t_ns / SEC), (int)en->line.len,
                                en->line.p);
            }
    }
    snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    scry_buf_fini(&b);
    lql_expr_fini(e);
    scry_arena_destroy(a);
    return out;
}

/* Renders a metric query: "{labels} t=v t=v\n" per series (t in seconds). */
static __attribute__((unused)) char *fx_metric(const char *q, int64_t start, int64_t end, int64_t step, bool instant)
{
    static char out[65536];
    struct scry_arena *a = scry_arena_create(0);
    struct lql_expr *e;
    struct scry_err err = { 0 };
    if (lql_parse(a, q, strlen(q), &e, &err))
        fail_msg("parse %s: %s", q, err.msg);
    struct lql_result r;
    struct lql_opts o = { 0 };
    int rc = lql_eval_metric(&o, ls_queryable(fx_st), e, start, end, step, instant, a, &r, &err);
    struct scry_buf b;
    scry_buf_init(&b);
    if (rc) {
        scry_buf_printf(&b, "error: %s", err.msg);
    } else if (r.type == LQL_RES_SCALAR) {
        scry_buf_printf(&b, "scalar %g", r.scalar);
    } else {
        for (size_t i = 0; i < r.n_series; i++) {
            fx_labels_text(&r.series[i].labels, &b);
            for (size_t k = 0; k < r.series[i].n_points; k++)
                scry_buf_printf(&b, " %lld=%g", (long long)(r.series[i].points[k].t_ns / SEC),
                                r.series[i].points[k].v);
            scry_buf_putc(&b, '\n');
        }
    }
    snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    scry_buf_fini(&b);
    lql_expr_fini(e);
    scry_arena_destroy(a);
    return out;
}

#endif
