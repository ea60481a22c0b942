/* scrape_target.c — from a discovered label set to a target's labels and
 * URL, as Prometheus's scrape/target.go PopulateLabels and Target.URL.
 *
 * Follows Prometheus 3: no default port is added to __address__ (2.x added
 * :80/:443 unless --enable-feature=no-default-scrape-port), so "host" stays
 * "host" in instance. Everything here runs when targets are (re)discovered,
 * never per scrape, so it allocates freely from the caller's arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/relabel.h"
#include "collector/scrape.h"
#include "core/mem.h"
#include "core/timeparse.h"

static void set_default(struct scry_labels_builder *b, const char *name, const char *value)
{
    struct scry_labels cur = { b->v, b->n };
    const char *v = scry_labels_get(&cur, name);
    if (!v || !*v)
        scry_labels_builder_set(b, name, value);
}

static const char *dur(struct scry_arena *a, int64_t ms)
{
    struct scry_buf s = { 0 };
    scry_duration_format(ms, &s);
    const char *r = scry_arena_strdup(a, s.p ? s.p : "0s");
    scry_buf_fini(&s);
    return r;
}

static int check_duration(const struct scry_labels *ls, const char *name, const char *what,
                          int64_t *out, struct scry_err *err)
{
    const char *v = scry_labels_get(ls, name);
    if (!v)
        v = "";
    if (scry_duration_parse(v, strlen(v), out, NULL) != 0)
        return scry_err_set(err, SCRY_EINVAL, "error parsing scrape %s: not a valid duration string: \"%s\"",
                            what, v);
    if (*out == 0)
        return scry_err_set(err, SCRY_EINVAL, "scrape %s cannot be 0", what);
    return 0;
}

int col_scrape_target_labels(struct scry_arena *a, const struct scry_scrape_config *sc,
                             const struct scry_labels *in, struct scry_labels *discovered,
                             struct scry_labels *labels, struct scry_err *err)
{
    struct scry_labels_builder b;
    scry_labels_builder_init(&b, a);
    scry_labels_builder_reset(&b, in);
    *labels = (struct scry_labels){ 0 };
    *discovered = (struct scry_labels){ 0 };

    set_default(&b, "job", sc->job_name);
    set_default(&b, "__scrape_interval__", dur(a, sc->scrape_interval_ms));
    set_default(&b, "__scrape_timeout__", dur(a, sc->scrape_timeout_ms));
    set_default(&b, "__metrics_path__", sc->metrics_path ? sc->metrics_path : "/metrics");
    set_default(&b, "__scheme__", sc->scheme ? sc->scheme : "http");
    /* Go's url.Values is a map: the first value of each key counts; a label
     * already discovered wins. */
    for (size_t i = 0; i < sc->n_params; i++) {
        bool first = true;
        for (size_t k = 0; k < i; k++)
            if (strcmp(sc->params[k].name, sc->params[i].name) == 0)
                first = false;
        if (first)
            set_default(&b, scry_arena_printf(a, "__param_%s", sc->params[i].name),
                        sc->params[i].value);
    }
    struct scry_labels pre = scry_labels_builder_labels(&b);
    struct scry_label *copy = scry_arena_alloc(a, (pre.n ? pre.n : 1) * sizeof *copy);
    memcpy(copy, pre.v, pre.n * sizeof *copy);
    *discovered = (struct scry_labels){ copy, pre.n };

    bool keep = true;
    col_relabel(sc->relabel_configs, sc->n_relabel_configs, &b, &keep);
    if (!keep)
        return 0;

    struct scry_labels cur = scry_labels_builder_labels(&b);
    const char *addr = scry_labels_get(&cur, "__address__");
    if (!addr || !*addr)
        return scry_err_set(err, SCRY_EINVAL, "no address");
    if (strchr(addr, '/'))
        return scry_err_set(err, SCRY_EINVAL, "\"%s\" is not a valid hostname", addr);
    int64_t iv, to;
    int rc = check_duration(&cur, "__scrape_interval__", "interval", &iv, err);
    if (rc == 0)
        rc = check_duration(&cur, "__scrape_timeout__", "timeout", &to, err);
    if (rc != 0)
        return rc;
    if (to > iv)
        return scry_err_set(err, SCRY_EINVAL,
                            "scrape timeout cannot be greater than scrape interval (\"%s\" > \"%s\")",
                            scry_labels_get(&cur, "__scrape_timeout__"),
                            scry_labels_get(&cur, "__scrape_interval__"));
    for (size_t i = cur.n; i-- > 0;)
        if (strncmp(cur.v[i].name, "__meta_", 7) == 0)
            scry_labels_builder_del(&b, cur.v[i].name);
    addr = scry_arena_strdup(a, addr);
    set_default(&b, "instance", addr);
    cur = scry_labels_builder_labels(&b);
    for (size_t i = 0; i < cur.n; i++)
        if (!scry_utf8_valid(cur.v[i].value, strlen(cur.v[i].value)))
            return scry_err_set(err, SCRY_EINVAL, "invalid label value for \"%s\": \"%s\"",
                                cur.v[i].name, cur.v[i].value);
    *labels = cur;
    return 0;
}

/* Go's url.QueryEscape. */
static void query_escape(struct scry_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            scry_buf_putc(out, (char)c);
        } else if (c == ' ') {
            scry_buf_putc(out, '+');
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            scry_buf_put(out, e, 3);
        }
    }
}

struct qparam {
    const char *k, *v;
    size_t order;
};

static int qparam_cmp(const void *x, const void *y)
{
    const struct qparam *a = x, *b = y;
    int c = strcmp(a->k, b->k);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

void col_scrape_target_url(const struct scry_scrape_config *sc, const struct scry_labels *labels,
                           struct scry_buf *out)
{
    const char *scheme = scry_labels_get(labels, "__scheme__");
    const char *addr = scry_labels_get(labels, "__address__");
    const char *path = scry_labels_get(labels, "__metrics_path__");
    scry_buf_printf(out, "%s://%s", scheme ? scheme : "http", addr ? addr : "");
    if (path && *path != '/')
        scry_buf_putc(out, '/');
    scry_buf_puts(out, path ? path : "");

    size_t n = sc->n_params + labels->n, k = 0;
    struct qparam *q = scry_malloc((n ? n : 1) * sizeof *q);
    for (size_t i = 0; i < sc->n_params; i++)
        q[k] = (struct qparam){ sc->params[i].name, sc->params[i].value, k }, k++;
    for (size_t i = 0; i < labels->n; i++) {
        const char *name = labels->v[i].name;
        if (strncmp(name, "__param_", 8) != 0)
            continue;
        name += 8;
        size_t j = 0;
        while (j < sc->n_params && strcmp(sc->params[j].name, name) != 0)
            j++;
        if (j < sc->n_params)
            q[j].v = labels->v[i].value; /* the first value is overridden */
        else
            q[k] = (struct qparam){ name, labels->v[i].value, k }, k++;
    }
    qsort(q, k, sizeof *q, qparam_cmp);
    for (size_t i = 0; i < k; i++) {
        scry_buf_putc(out, i ? '&' : '?');
        query_escape(out, q[i].k);
        scry_buf_putc(out, '=');
        query_escape(out, q[i].v);
    }
    free(q);
}
