/* otlp_capture.c — scry's OTLP/HTTP metrics receiver with a capturing store,
 * for tests that drive it with real clients (tests/integration/test_otlp_js.py):
 *
 *   otlp_capture [LISTEN]      (default 127.0.0.1:0)
 *
 * Runs the real core/http server with col_otlp_register and an appender
 * that prints every committed sample on stdout as one line,
 *   name{label="value", ...} VALUE @T_MS
 * (VALUE as Go's 'g' format; "stale" for the staleness marker), flushed at
 * each commit, so a line is out before the client gets its 200. The first
 * line is "listening PORT". Exits when stdin reaches EOF, after stopping the
 * server. The store is not in this branch; this stands in for it. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/otlp.h"
#include "core/appender.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/labels.h"
#include "core/mem.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct app {
    struct scry_appender base;
    struct scry_buf out; /* this request's lines */
};

static int app_append(struct scry_appender *a, uint64_t *ref, const struct scry_labels *ls,
                      int64_t t_ms, double v, struct scry_err *err)
{
    struct app *p = (struct app *)a;
    (void)ref;
    if (scry_labels_validate(ls, err) != 0)
        return SCRY_EINVAL;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    scry_labels_format(ls, &p->out);
    if (bits == COL_OTLP_STALE_NAN_BITS) {
        scry_buf_puts(&p->out, " stale");
    } else {
        scry_buf_putc(&p->out, ' ');
        scry_buf_put_double(&p->out, v);
    }
    scry_buf_printf(&p->out, " @%" PRId64 "\n", t_ms);
    return 0;
}

static int app_commit(struct scry_appender *a, struct scry_err *err)
{
    struct app *p = (struct app *)a;
    (void)err;
    pthread_mutex_lock(&mu);
    if (p->out.len)
        fwrite(p->out.p, 1, p->out.len, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    scry_buf_fini(&p->out);
    free(p);
    return 0;
}

static void app_rollback(struct scry_appender *a)
{
    struct app *p = (struct app *)a;
    scry_buf_fini(&p->out);
    free(p);
}

static const struct scry_appender_ops ops = {
    .append_sample = app_append, .commit = app_commit, .rollback = app_rollback,
};

static int store_begin(struct scry_appendable *s, const char *tenant, struct scry_appender **out,
                       struct scry_err *err)
{
    (void)s, (void)tenant, (void)err;
    struct app *p = scry_calloc(1, sizeof *p);
    p->base.ops = &ops;
    *out = &p->base;
    return 0;
}

int main(int argc, char **argv)
{
    struct scry_appendable store = { .begin = store_begin };
    struct scry_http_opts o = { .listen = argc > 1 ? argv[1] : "127.0.0.1:0",
                                .shutdown_timeout_ms = 5000 };
    struct scry_http_server *srv = NULL;
    struct col_otlp *otlp = NULL;
    struct scry_err err = { 0 };
    if (scry_http_server_create(&srv, &o, &err) != 0 ||
        col_otlp_register(&otlp, srv, &store, NULL, &err) != 0 ||
        scry_http_server_start(srv, &err) != 0) {
        fprintf(stderr, "otlp_capture: %s\n", err.msg);
        scry_http_server_destroy(srv);
        col_otlp_destroy(otlp);
        return 1;
    }
    pthread_mutex_lock(&mu);
    printf("listening %d\n", scry_http_server_port(srv));
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    char buf[256];
    while (fgets(buf, sizeof buf, stdin))
        ;
    scry_http_server_stop(srv);
    scry_http_server_destroy(srv);
    col_otlp_destroy(otlp);
    return 0;
}
