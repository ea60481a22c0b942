/* scrape_loop.c — one scrape of one target: the request, then the
 * response turned into appends, as Prometheus's scrapeLoop.scrapeAndReport.
 *
 * The request is an easy handle kept per target and driven by the
 * manager's multi handle; curl undoes gzip itself (Accept-Encoding: gzip),
 * so body_size_limit counts decoded bytes, as Prometheus's does. When the
 * response is complete the scrape thread parses it, and for each sample:
 *
 *   hit:  xxh64(series text) -> cache entry -> append(&ref, labels, t, v)
 *   miss: labels from the text, target labels (honor_labels or exported_),
 *         metric_relabel_configs, limits and validation -> new cache entry
 *
 * so after the first scrape the hot path allocates nothing (the response
 * buffer, parser and cache are reused). Any error (parse, sample_limit,
 * label limits, invalid labels, store failure) rolls the scrape back and
 * appends an empty scrape instead, which marks every series of the last
 * good scrape stale: Prometheus does exactly this. Then the report series
 * (up, scrape_duration_seconds, ...) and one commit. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/scrape_internal.h"
#include "core/mem.h"

static const char *const report_names[COL__N_REPORT] = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added",
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct col__target *t = ud;
    size_t len = size * n;
    if (t->body_limit && t->body.len + len > t->body_limit) {
        t->body_over = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    scry_buf_put(&t->body, p, len);
    return len;
}

static void set_auth(struct col__target *t, const struct scry_scrape_config *sc)
{
    CURL *c = t->easy;
    const struct scry_http_client_config *hc = &sc->http;
    if (hc->basic_auth_username) {
        char *pw = hc->basic_auth_password_file
                       ? col__read_secret(hc->basic_auth_password_file, "\r\n ")
                       : NULL;
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, hc->basic_auth_username);
        curl_easy_setopt(c, CURLOPT_PASSWORD,
                         pw ? pw : hc->basic_auth_password ? hc->basic_auth_password : "");
        free(pw);
    }
    const char *cred = hc->authorization_credentials;
    char *file_cred = NULL;
    if (hc->authorization_credentials_file)
        cred = file_cred = col__read_secret(hc->authorization_credentials_file, "\r\n ");
    if (cred) {
        struct scry_buf h = { 0 };
        scry_buf_printf(&h, "Authorization: %s %s",
                        hc->authorization_type ? hc->authorization_type : "Bearer", cred);
        t->hdrs = curl_slist_append(t->hdrs, h.p);
        scry_buf_fini(&h);
    }
    free(file_cred);
}

int col__loop_start(struct col_scrape_manager *m, struct col__target *t, int64_t now_ms,
                    double now_s)
{
    const struct scry_scrape_config *sc = col__target_cfg(t);
    const struct col_scrape_opts *o = col__manager_opts(m);
    if (!t->easy) {
        int rc = col__tls_route_init(&t->route, t->url, &sc->http.tls);
        if (rc < 0)
            return rc;
        t->easy = curl_easy_init();
        if (!t->easy)
            return SCRY_ENOMEM;
    }
    CURL *c = t->easy;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* follow_redirects: true */
    col__tls_apply(c, &sc->http.tls, &t->route);

    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    char h[128];
    t->hdrs = curl_slist_append(t->hdrs, "Accept: " COL_EXPFMT_ACCEPT);
    snprintf(h, sizeof h, "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)t->timeout_ms / 1000.0);
    t->hdrs = curl_slist_append(t->hdrs, h);
    t->hdrs = col__tls_route_headers(&t->route, t->hdrs);
    set_auth(t, sc);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->hdrs);

    scry_buf_reset(&t->body);
    t->body_limit = sc->body_size_limit_bytes > 0 ? (size_t)sc->body_size_limit_bytes : 0;
    t->body_over = false;
    t->curl_err[0] = '\0';
    t->t_ms = now_ms;
    t->start_s = now_s;
    t->in_flight = true;
    return 0;
}

/* ---- the miss path: a new series text ------------------------------------ */

struct conflict {
    const char *name, *value;
};

static int conflict_cmp(const void *x, const void *y)
{
    const struct conflict *a = x, *b = y;
    size_t la = strlen(a->name), lb = strlen(b->name);
    if (la != lb)
        return la < lb ? -1 : 1;
    return a < b ? -1 : a > b; /* stable: keep label order */
}

static const char *cstr(struct scry_arena *a, struct scry_str s)
{
    return scry_arena_strndup(a, s.p, s.len);
}

/* Prometheus's mutateSampleLabels and verifyLabelLimits. */
static int build_series(struct col__target *t, const struct scry_scrape_config *sc,
                        const struct col_expfmt_sample *s, struct col__series **out,
                        struct scry_err *err)
{
    struct scry_arena *a = t->scratch;
    scry_arena_reset(a);
    struct scry_labels_builder *b = &t->lb;
    scry_labels_builder_init(b, a);
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct col_expfmt_label *l = &s->labels[i];
        const char *v;
        if (l->escaped) {
            char *u = scry_arena_alloc(a, l->value.len + 1);
            u[col_expfmt_unescape(l->value, u)] = '\0';
            v = u;
        } else {
            v = cstr(a, l->value);
        }
        scry_labels_builder_set(b, cstr(a, l->name), v);
    }
    scry_labels_builder_set(b, SCRY_METRIC_NAME, cstr(a, s->name));

    struct scry_labels cur;
    if (sc->honor_labels) {
        for (size_t i = 0; i < t->pub.n; i++) {
            cur = (struct scry_labels){ b->v, b->n };
            if (!scry_labels_get(&cur, t->pub.v[i].name))
                scry_labels_builder_set(b, t->pub.v[i].name, t->pub.v[i].value);
        }
    } else {
        struct conflict *cf = NULL;
        size_t n_cf = 0;
        for (size_t i = 0; i < t->pub.n; i++) {
            cur = (struct scry_labels){ b->v, b->n };
            const char *ex = scry_labels_get(&cur, t->pub.v[i].name);
            if (ex) {
                if (!cf)
                    cf = scry_arena_alloc(a, t->pub.n * sizeof *cf);
                cf[n_cf++] = (struct conflict){ t->pub.v[i].name, ex };
            }
            scry_labels_builder_set(b, t->pub.v[i].name, t->pub.v[i].value);
        }
        if (n_cf > 1)
            qsort(cf, n_cf, sizeof *cf, conflict_cmp);
        for (size_t i = 0; i < n_cf; i++) {
            const char *name = cf[i].name;
            for (;;) {
                name = scry_arena_printf(a, "exported_%s", name);
                cur = (struct scry_labels){ b->v, b->n };
                if (!scry_labels_get(&cur, name)) {
                    scry_labels_builder_set(b, name, cf[i].value);
                    break;
                }
            }
        }
    }
    bool keep = true;
    if (sc->n_metric_relabel_configs)
        col_relabel_apply(&t->mrc, b, &keep);
    cur = scry_labels_builder_labels(b);
    uint64_t key = scry_xxh64(s->series.p, s->series.len, 0);
    if (!keep || cur.n == 0) {
        *out = col__cache_add(&t->cache, key, s->series.p, s->series.len, NULL, true);
        return 0;
    }
    const char *name = scry_labels_get(&cur, SCRY_METRIC_NAME);
    if (!name)
        return scry_err_set(err, SCRY_EINVAL, "missing metric name (__name__ label)");
    if (scry_labels_validate(&cur, NULL) != 0) {
        scry_buf_reset(&t->tmp);
        scry_labels_format(&cur, &t->tmp);
        return scry_err_set(err, SCRY_EINVAL, "invalid metric name or label names: %s", t->tmp.p);
    }
    if (sc->label_limit && cur.n > sc->label_limit)
        return scry_err_set(err, SCRY_ELIMIT,
                            "label_limit exceeded (metric: %.50s, number of labels: %zu, limit: %llu)",
                            name, cur.n, (unsigned long long)sc->label_limit);
    for (size_t i = 0; i < cur.n; i++) {
        size_t ln = strlen(cur.v[i].name), lv = strlen(cur.v[i].value);
        if (sc->label_name_length_limit && ln > sc->label_name_length_limit)
            return scry_err_set(err, SCRY_ELIMIT,
                                "label_name_length_limit exceeded (metric: %.50s, label name: %.50s, length: %zu, limit: %llu)",
                                name, cur.v[i].name, ln,
                                (unsigned long long)sc->label_name_length_limit);
        if (sc->label_value_length_limit && lv > sc->label_value_length_limit)
            return scry_err_set(err, SCRY_ELIMIT,
                                "label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: \"%.50s\", length: %zu, limit: %llu)",
                                name, cur.v[i].name, cur.v[i].value, lv,
                                (unsigned long long)sc->label_value_length_limit);
    }
    *out = col__cache_add(&t->cache, key, s->series.p, s->series.len, &cur, false);
    return 0;
}

/* ---- appending a body ----------------------------------------------------- */

struct counts {
    uint64_t scraped, added, series_added, appended;
};

static int append_body(struct col__target *t, const struct scry_scrape_config *sc,
                       struct scry_appender *app, enum col_expfmt_format fmt, struct counts *n,
                       struct scry_err *err)
{
    struct col_expfmt_parser p;
    col_expfmt_init(&p, t->body.p ? t->body.p : "", t->body.len, fmt);
    uint32_t iter = ++t->iter;
    int rc = 0, k;
    while (rc == 0 && (k = col_expfmt_next(&p)) > COL_EXPFMT_EOF) {
        if (k != COL_EXPFMT_SAMPLE) {
            if (k != COL_EXPFMT_COMMENT)
                col__meta_update(&t->meta, &p, k, iter);
            continue;
        }
        const struct col_expfmt_sample *s = &p.sample;
        n->scraped++;
        uint64_t key = scry_xxh64(s->series.p, s->series.len, 0);
        struct col__series *e = col__cache_get(&t->cache, key, s->series.p, s->series.len);
        if (!e) {
            rc = build_series(t, sc, s, &e, err);
            if (rc)
                break;
            if (!e->dropped)
                n->series_added++;
        }
        e->seen = iter;
        if (e->dropped)
            continue;
        n->added++;
        if (sc->sample_limit && n->added > sc->sample_limit)
            continue; /* keep counting scraped samples; fails below */
        int64_t ts = sc->honor_timestamps && s->has_ts ? s->ts_ms : t->t_ms;
        int arc = scry_append_sample(app, &e->ref, &e->lset, ts, s->value, err);
        if (arc == SCRY_EINVAL) {
            continue; /* out of order, duplicate, too old: Prometheus skips and counts */
        } else if (arc) {
            rc = arc;
            break;
        }
        n->appended++;
    }
    if (rc == 0 && col_expfmt_err(&p, err) < 0)
        rc = SCRY_EPARSE;
    col_expfmt_fini(&p);
    if (rc == 0 && sc->sample_limit && n->added > sc->sample_limit)
        rc = scry_err_set(err, SCRY_ELIMIT, "sample limit exceeded");
    if (rc)
        return rc;
    rc = col__cache_end_scrape(&t->cache, app, iter, t->t_ms, err);
    if (rc < 0)
        return rc;
    col__meta_sweep(&t->meta, iter);
    return 0;
}

static void report_labels(struct col__target *t)
{
    if (t->report_ls[0].v)
        return;
    for (int i = 0; i < COL__N_REPORT; i++) {
        struct scry_labels_builder b;
        scry_labels_builder_init(&b, t->a);
        scry_labels_builder_reset(&b, &t->pub);
        scry_labels_builder_set(&b, SCRY_METRIC_NAME, report_names[i]);
        t->report_ls[i] = scry_labels_builder_labels(&b);
    }
}

static int append_report(struct col__target *t, struct scry_appender *app, bool up,
                         double dur_s, const struct counts *n, struct scry_err *err)
{
    report_labels(t);
    double v[COL__N_REPORT] = { up ? 1 : 0, dur_s, (double)n->scraped, (double)n->added,
                                (double)n->series_added };
    for (int i = 0; i < COL__N_REPORT; i++) {
        int rc = scry_append_sample(app, &t->report_ref[i], &t->report_ls[i], t->t_ms, v[i], err);
        if (rc && rc != SCRY_EINVAL)
            return rc;
    }
    t->reported = true;
    return 0;
}

static const char *status_text(long code)
{
    switch (code) {
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* snprintf with truncation that the compiler does not flag. */
static void set_msg(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *dst, size_t len, const char *fmt, ...)
{
    struct scry_buf b = { 0 };
    va_list ap;
    va_start(ap, fmt);
    scry_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    size_t n = b.len < len - 1 ? b.len : len - 1;
    memcpy(dst, b.p ? b.p : "", n);
    dst[n] = '\0';
    scry_buf_fini(&b);
}

/* The scrape's error, or "" when the response is usable. */
static void scrape_error(struct col__target *t, CURLcode rc, char *msg, size_t len)
{
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    msg[0] = '\0';
    if (t->body_over)
        snprintf(msg, len, "body size limit exceeded");
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        set_msg(msg, len, "Get \"%s\": context deadline exceeded", t->url);
    else if (rc != CURLE_OK)
        set_msg(msg, len, "Get \"%s\": %s", t->url,
                 t->curl_err[0] ? t->curl_err : curl_easy_strerror(rc));
    else if (code != 200)
        snprintf(msg, len, "server returned HTTP status %ld %s", code, status_text(code));
}

void col__loop_finish(struct col_scrape_manager *m, struct col__target *t, CURLcode crc)
{
    const struct scry_scrape_config *sc = col__target_cfg(t);
    const struct col_scrape_opts *o = col__manager_opts(m);
    double dur_s = scry_mono_s() - t->start_s;
    t->in_flight = false;
    char msg[sizeof t->last_error];
    scrape_error(t, crc, msg, sizeof msg);
    struct counts n = { 0 };
    struct scry_err err = { 0 };
    struct scry_appender *app = NULL;
    int rc = scry_appender_begin(o->appendable, o->tenant, &app, &err);
    if (rc == 0 && !msg[0]) {
        const char *ct = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
        rc = append_body(t, sc, app, col_expfmt_format_from_content_type(ct), &n, &err);
        if (rc) {
            set_msg(msg, sizeof msg, "%s", err.msg);
            scry_appender_rollback(app);
            app = NULL;
            n.appended = 0;
            rc = scry_appender_begin(o->appendable, o->tenant, &app, &err);
        }
    } else if (rc == 0) {
        t->iter++;
    }
    if (rc == 0 && msg[0])
        rc = col__cache_stale_all(&t->cache, app, t->t_ms, &err);
    if (rc >= 0)
        rc = append_report(t, app, !msg[0], dur_s, &n, &err);
    if (rc == 0) {
        rc = scry_appender_commit(app, &err);
        app = NULL;
    }
    if (app)
        scry_appender_rollback(app);
    if (rc < 0) {
        /* The store failed: nothing of this scrape is written, and the cache
         * may hold refs the store never committed, so start it afresh. */
        col__cache_stale_all(&t->cache, NULL, 0, NULL);
        if (!msg[0])
            set_msg(msg, sizeof msg, "store: %s", err.msg);
        n.appended = 0;
    }
    t->health = msg[0] ? COL__DOWN : COL__UP;
    snprintf(t->last_error, sizeof t->last_error, "%s", msg);
    t->last_scrape_ms = t->t_ms;
    t->last_duration_s = dur_s;
    t->n_scrapes++;
    col__manager_count(m, !msg[0], n.appended);
    if (msg[0])
        col__manager_log_failure(m, t, msg, t->t_ms);
    if (o->on_scrape) {
        struct col_scrape_event ev = {
            .job = sc->job_name, .target = &t->pub, .body = t->body.p ? t->body.p : "",
            .body_len = t->body.len, .t_ms = t->t_ms, .up = !msg[0], .error = msg,
            .samples_scraped = n.scraped, .samples_post_relabel = n.added,
            .series_added = n.series_added,
        };
        o->on_scrape(o->on_scrape_ud, &ev);
    }
}

void col__loop_stale_all(struct col_scrape_manager *m, struct col__target *t, int64_t t_ms)
{
    const struct col_scrape_opts *o = col__manager_opts(m);
    struct scry_appender *app;
    struct scry_err err = { 0 };
    if (scry_appender_begin(o->appendable, o->tenant, &app, &err) != 0)
        return;
    int rc = col__cache_stale_all(&t->cache, app, t_ms, &err);
    if (rc >= 0 && t->reported) {
        for (int i = 0; i < COL__N_REPORT && rc >= 0; i++) {
            int r = scry_append_sample(app, &t->report_ref[i], &t->report_ls[i], t_ms,
                                       col__stale_nan(), &err);
            if (r && r != SCRY_EINVAL)
                rc = r;
        }
    }
    if (rc >= 0)
        scry_appender_commit(app, &err);
    else
        scry_appender_rollback(app);
}

void col__target_free(struct col__target *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    col__tls_route_free(&t->route);
    scry_buf_fini(&t->body);
    scry_buf_fini(&t->tmp);
    col__cache_fini(&t->cache);
    col__meta_fini(&t->meta);
    col_relabel_ctx_fini(&t->mrc);
    scry_arena_destroy(t->scratch);
    scry_arena_destroy(t->a);
    free(t);
}
