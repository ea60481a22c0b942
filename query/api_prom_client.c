/* api_prom_client.c — query responses as text (see api_prom_client.h).
 *
 * The answer is parsed whole with core/json_read.h into a per-call arena:
 * `scry query` reads one response and exits, so streaming would buy
 * nothing. Timestamps and values are printed exactly as the server wrote
 * them (the number's source text, the value string), so what a user sees
 * is what Grafana receives. */
#include "query/api_prom_client.h"

#include <string.h>

#include "core/arena.h"
#include "core/json_read.h"
#include "core/labels.h"

/* The source text of a JSON number or the bytes of a string. */
static struct scry_str text(const struct scry_jval *v)
{
    if (v && (v->type == SCRY_JSON_NUMBER || v->type == SCRY_JSON_STRING))
        return (struct scry_str){ v->u.s, v->n };
    return SCRY_STR("?");
}

/* {"__name__":"up","job":"x"} → up{job="x"} (server order is sorted). */
static void put_metric(struct scry_arena *a, const struct scry_jval *m, struct scry_buf *out)
{
    size_t n = scry_jval_len(m);
    struct scry_label *v = scry_arena_alloc(a, (n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->u.obj[i].val.type != SCRY_JSON_STRING)
            continue;
        v[k].name = m->u.obj[i].key.p;
        v[k++].value = m->u.obj[i].val.u.s;
    }
    struct scry_labels ls = { v, k };
    scry_labels_format(&ls, out);
}

static void put_str(struct scry_buf *b, struct scry_str s)
{
    scry_buf_put(b, s.p, s.len);
}

static void pad(struct scry_buf *b, size_t n)
{
    while (n--)
        scry_buf_putc(b, ' ');
}

static void render_vector(struct scry_arena *a, const struct scry_jval *res, struct scry_buf *out)
{
    size_t n = scry_jval_len(res);
    struct scry_buf *names = scry_arena_calloc(a, n ? n : 1, sizeof *names);
    size_t w_name = strlen("SERIES"), w_val = strlen("VALUE");
    for (size_t i = 0; i < n; i++) {
        const struct scry_jval *s = scry_jval_at(res, i);
        put_metric(a, scry_jval_get(s, "metric"), &names[i]);
        if (names[i].len > w_name)
            w_name = names[i].len;
        struct scry_str v = text(scry_jval_at(scry_jval_get(s, "value"), 1));
        if (v.len > w_val)
            w_val = v.len;
    }
    scry_buf_printf(out, "%-*s  %-*s  TIME\n", (int)w_name, "SERIES", (int)w_val, "VALUE");
    for (size_t i = 0; i < n; i++) {
        const struct scry_jval *pt = scry_jval_get(scry_jval_at(res, i), "value");
        struct scry_str v = text(scry_jval_at(pt, 1));
        scry_buf_put(out, names[i].p, names[i].len);
        pad(out, w_name - names[i].len + 2);
        put_str(out, v);
        pad(out, w_val - v.len + 2);
        put_str(out, text(scry_jval_at(pt, 0)));
        scry_buf_putc(out, '\n');
        scry_buf_fini(&names[i]);
    }
}

static void render_matrix(struct scry_arena *a, const struct scry_jval *res, struct scry_buf *out)
{
    for (size_t i = 0; i < scry_jval_len(res); i++) {
        const struct scry_jval *s = scry_jval_at(res, i);
        put_metric(a, scry_jval_get(s, "metric"), out);
        scry_buf_putc(out, '\n');
        const struct scry_jval *vals = scry_jval_get(s, "values");
        for (size_t k = 0; k < scry_jval_len(vals); k++) {
            const struct scry_jval *pt = scry_jval_at(vals, k);
            scry_buf_puts(out, "  ");
            put_str(out, text(scry_jval_at(pt, 1)));
            scry_buf_puts(out, " @");
            put_str(out, text(scry_jval_at(pt, 0)));
            scry_buf_putc(out, '\n');
        }
    }
}

static void notes_of(const struct scry_jval *root, const char *key, const char *prefix,
                     struct scry_buf *notes)
{
    const struct scry_jval *v = scry_jval_get(root, key);
    for (size_t i = 0; i < scry_jval_len(v); i++) {
        scry_buf_printf(notes, "%s: ", prefix);
        put_str(notes, text(scry_jval_at(v, i)));
        scry_buf_putc(notes, '\n');
    }
}

static int render(struct scry_arena *a, const struct scry_jval *root, struct scry_buf *out,
                  struct scry_buf *notes, struct scry_err *err)
{
    struct scry_str status;
    if (scry_jval_str(scry_jval_get(root, "status"), &status) != 0)
        return scry_err_set(err, SCRY_EPARSE, "not a Prometheus API response: no status");
    if (!scry_str_eqz(status, "success")) {
        struct scry_str et = text(scry_jval_get(root, "errorType")),
                        em = text(scry_jval_get(root, "error"));
        return scry_err_set(err, SCRY_EINVAL, "%.*s: %.*s", (int)et.len, et.p, (int)em.len,
                            em.p);
    }
    notes_of(root, "warnings", "warning", notes);
    notes_of(root, "infos", "info", notes);
    const struct scry_jval *data = scry_jval_get(root, "data");
    struct scry_str type;
    if (scry_jval_str(scry_jval_get(data, "resultType"), &type) != 0)
        return scry_err_set(err, SCRY_EPARSE, "not a query response: no data.resultType");
    const struct scry_jval *res = scry_jval_get(data, "result");
    if (scry_str_eqz(type, "vector") || scry_str_eqz(type, "matrix")) {
        if (scry_jval_len(res) == 0)
            scry_buf_printf(out, "(empty %.*s)\n", (int)type.len, type.p);
        else if (scry_str_eqz(type, "vector"))
            render_vector(a, res, out);
        else
            render_matrix(a, res, out);
    } else if (scry_str_eqz(type, "scalar") || scry_str_eqz(type, "string")) {
        put_str(out, text(scry_jval_at(res, 1)));
        scry_buf_puts(out, " @");
        put_str(out, text(scry_jval_at(res, 0)));
        scry_buf_putc(out, '\n');
    } else {
        return scry_err_set(err, SCRY_EPARSE, "unknown resultType \"%.*s\"", (int)type.len,
                            type.p);
    }
    return 0;
}

int pql_api_client_render(const char *body, size_t len, struct scry_buf *out,
                          struct scry_buf *notes, struct scry_err *err)
{
    struct scry_arena *a = scry_arena_create(0);
    struct scry_jval *root;
    int rc = scry_json_parse(a, body ? body : "", body ? len : 0, NULL, &root, err);
    if (rc != 0) {
        scry_err_prefix(err, "not a Prometheus API response");
        rc = SCRY_EPARSE;
    } else {
        rc = render(a, root, out, notes, err);
    }
    scry_arena_destroy(a);
    return rc;
}
