/* expfmt_om.c — the OpenMetrics 1.0 text format, as Prometheus 2.x parses
 * it (model/textparse/openmetricslex.l and openmetricsparse.go).
 *
 * Stricter than the text format, and deliberately so: tokens are separated
 * by exactly one space, there are no blank lines and no free comments (only
 * "# HELP", "# TYPE", "# UNIT" and "# EOF"), label values may not hold raw
 * newlines, labels need commas, and the body must end with "# EOF" and an
 * optional '\n' and nothing after it. Timestamps are float seconds;
 * Prometheus keeps int64(ts * 1000), so we truncate the same way. An
 * exemplar follows " # " after the value or the timestamp:
 *     foo_total 17 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67 1520879602
 * The type checks the OpenMetrics spec adds (counter samples end in _total
 * or _created, exemplars only on counters and buckets, ...) are not made
 * by Prometheus's parser, so they are not made here: a body that Prometheus
 * accepts must be accepted. We do mark _created samples, see expfmt.h. */
#include "collector/expfmt_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/labels.h"

static inline const char *scan_name(const char *s, const char *end, unsigned cont)
{
    return col__expfmt_scan_name(s + 1, end, cont == COL__MCONT);
}

/* Labels after '{' up to and including '}', into the label array from
 * slot *n on. Exemplar labels use the same grammar (openmetricslex.l's
 * sExemplar / sEValue states mirror sLabels / sLValue). */
static int om_labels(struct col_expfmt_parser *p, const char *s, const char **out, size_t first,
                     size_t *n_out)
{
    const char *end = p->end;
    size_t n = first;
    for (;;) {
        if (s < end && *s == '}')
            break;
        if (s == end || !COL__IS(*s, COL__LSTART))
            return col__expfmt_fail_got(p, s, "expected label name");
        const char *ln = s;
        s = scan_name(s, end, COL__LCONT);
        struct scry_str name = { ln, (size_t)(s - ln) };
        if (s == end || *s != '=')
            return col__expfmt_fail_got(p, s, "expected equal");
        s++;
        if (s == end || *s != '"')
            return col__expfmt_fail_got(p, s, "expected label value");
        const char *vs = s + 1;
        bool esc = false, high = false;
        const char *q = col__expfmt_scan_value(p, vs, false, &esc, &high);
        if (!q)
            return col__expfmt_fail_got(p, s, "expected label value");
        struct scry_str val = { vs, (size_t)(q - vs) };
        if (high && !col__expfmt_utf8_valid(val.p, val.len))
            return col__expfmt_fail(p, vs, "invalid UTF-8 label value");
        if (col__expfmt_has(p->lab + first, n - first, name) ||
            (first == 0 && col__expfmt_is_name_label(name)))
            return col__expfmt_fail(p, ln, "duplicate label name \"%.*s\"", (int)name.len, name.p);
        struct col_expfmt_label *l = col__expfmt_label(p, n++);
        l->name = name;
        l->value = val;
        l->escaped = esc;
        s = q + 1;
        if (s < end && *s == ',')
            s++;
        else if (s == end || *s != '}')
            return col__expfmt_fail_got(p, s, "expected comma or brace close");
    }
    *out = s + 1;
    *n_out = n;
    return 0;
}

/* A float token " <token>" at s (which points at the space); *out is set
 * past it. `after` names what precedes it, for the message. */
static int om_value(struct col_expfmt_parser *p, const char *s, const char **out, double *v,
                    const char *after)
{
    const char *end = p->end;
    if (s == end || *s != ' ' || s + 1 == end || s[1] == ' ' || s[1] == '\n') {
        char exp[48];
        snprintf(exp, sizeof exp, "expected value after %s", after);
        return col__expfmt_fail_got(p, s, exp);
    }
    const char *t = ++s;
    s = col__expfmt_scan(s, end, COL__OMVAL);
    int rc = col__expfmt_float(t, (size_t)(s - t), v);
    if (rc) {
        char q[COL__QUOTE_MAX];
        col__expfmt_quote(t, (size_t)(s - t), q, sizeof q);
        return col__expfmt_fail(p, t, rc == -2 ? "value %s out of range" : "invalid value %s", q);
    }
    if (isnan(*v)) {
        uint64_t bits = 0x7ff8000000000001ULL; /* Prometheus's value.NormalNaN */
        memcpy(v, &bits, sizeof bits);
    }
    *out = s;
    return 0;
}

/* A timestamp token " <float seconds>" at s; *ts_ms gets int64(ts * 1000). */
static int om_ts(struct col_expfmt_parser *p, const char *s, const char **out, int64_t *ts_ms)
{
    const char *end = p->end, *t = ++s;
    s = col__expfmt_scan(s, end, COL__OMVAL);
    double ts;
    int rc = col__expfmt_float(t, (size_t)(s - t), &ts);
    char q[COL__QUOTE_MAX];
    col__expfmt_quote(t, (size_t)(s - t), q, sizeof q);
    if (rc)
        return col__expfmt_fail(p, t, "invalid timestamp %s", q);
    /* ±9.2e15 s is the int64 range in ms; C, unlike Go, makes an out of
     * range conversion undefined, so refuse it. */
    if (isnan(ts) || isinf(ts) || fabs(ts) >= 9.2e15)
        return col__expfmt_fail(p, t, "invalid timestamp %s", q);
    *ts_ms = (int64_t)(ts * 1000);
    *out = s;
    return 0;
}

static bool at_exemplar(const char *s, const char *end)
{
    return end - s >= 4 && s[0] == ' ' && s[1] == '#' && s[2] == ' ' && s[3] == '{';
}

/* " # {labels} value [timestamp]\n" at s. */
static int om_exemplar(struct col_expfmt_parser *p, const char *s, const char **out,
                       size_t first)
{
    const char *end = p->end;
    struct col_expfmt_exemplar *e = &p->sample.exemplar;
    size_t n;
    int rc = om_labels(p, s + 4, &s, first, &n);
    if (rc)
        return rc;
    e->n_labels = n - first;
    rc = om_value(p, s, &s, &e->value, "exemplar labels");
    if (rc)
        return rc;
    e->has_ts = false;
    if (s == end)
        return col__expfmt_fail(p, s, "data does not end with # EOF");
    if (*s == ' ' && s + 1 < end && s[1] != ' ' && s[1] != '\n') {
        rc = om_ts(p, s, &s, &e->ts_ms);
        if (rc)
            return rc;
        e->has_ts = true;
        if (s == end || *s != '\n')
            return col__expfmt_fail_got(p, s, "expected next entry after exemplar timestamp");
    } else if (*s != '\n') {
        return col__expfmt_fail_got(p, s, "expected timestamp or comment");
    }
    p->sample.has_exemplar = true;
    *out = s;
    return 0;
}

static int om_sample(struct col_expfmt_parser *p, const char *s)
{
    const char *end = p->end, *start = s;
    struct col_expfmt_sample *m = &p->sample;
    s = scan_name(s, end, COL__MCONT);
    m->name = (struct scry_str){ start, (size_t)(s - start) };
    m->series = m->name;
    size_t n = 0;
    if (s < end && *s == '{') {
        int rc = om_labels(p, s + 1, &s, 0, &n);
        if (rc)
            return rc;
        m->series.len = (size_t)(s - start);
    }
    int rc = om_value(p, s, &s, &m->value, "metric");
    if (rc)
        return rc;
    m->has_ts = false;
    m->has_exemplar = false;
    if (s < end && *s == ' ' && !at_exemplar(s, end)) {
        if (s + 1 == end || s[1] == ' ' || s[1] == '\n')
            return col__expfmt_fail_got(p, s, "expected timestamp or new record");
        rc = om_ts(p, s, &s, &m->ts_ms);
        if (rc)
            return rc;
        m->has_ts = true;
        if (s < end && *s != '\n' && !at_exemplar(s, end))
            return col__expfmt_fail_got(p, s, "expected next entry after timestamp");
    }
    if (s == end)
        return col__expfmt_fail(p, s, "data does not end with # EOF");
    if (*s == ' ') {
        rc = om_exemplar(p, s, &s, n);
        if (rc)
            return rc;
        m->exemplar.labels = p->lab + n;
    }
    col__expfmt_newline(p, s);
    p->cur = s + 1;
    m->labels = p->lab;
    m->n_labels = n;
    m->created = col__expfmt_is_created(p, m->name);
    return COL_EXPFMT_SAMPLE;
}

static int om_meta(struct col_expfmt_parser *p, int kind, const char *s)
{
    static const char *const what[] = { [COL_EXPFMT_HELP] = "HELP", [COL_EXPFMT_TYPE] = "TYPE",
                                        [COL_EXPFMT_UNIT] = "UNIT" };
    const char *end = p->end;
    struct col_expfmt_meta *m = &p->meta;
    if (s == end || !COL__IS(*s, COL__MSTART)) {
        char exp[40];
        snprintf(exp, sizeof exp, "expected metric name after %s", what[kind]);
        return col__expfmt_fail_got(p, s, exp);
    }
    const char *x = scan_name(s, end, COL__MCONT);
    m->name = (struct scry_str){ s, (size_t)(x - s) };
    const char *eol = x < end ? memchr(x, '\n', (size_t)(end - x)) : NULL;
    if (!eol || *x != ' ')
        return col__expfmt_fail(p, x, "expected text in %s", what[kind]);
    m->text = (struct scry_str){ x + 1, (size_t)(eol - x - 1) };
    m->escaped = memchr(m->text.p, '\\', m->text.len) != NULL;
    m->type = COL_METRIC_UNKNOWN;
    char q[COL__QUOTE_MAX];
    if (kind == COL_EXPFMT_TYPE) {
        static const char *const types[] = { "unknown", "counter", "gauge", "histogram",
                                             "gaugehistogram", "summary", "info", "stateset" };
        size_t i = 0, n_types = sizeof types / sizeof types[0];
        while (i < n_types && !(m->text.len == strlen(types[i]) && memcmp(m->text.p, types[i], m->text.len) == 0))
            i++;
        if (i == n_types) {
            col__expfmt_quote(m->text.p, m->text.len, q, sizeof q);
            return col__expfmt_fail(p, m->text.p, "invalid metric type %s", q);
        }
        m->type = (enum col_metric_type)i;
        p->family = m->name;
        p->family_type = m->type;
    } else if (kind == COL_EXPFMT_HELP) {
        if (!col__expfmt_utf8_valid(m->text.p, m->text.len))
            return col__expfmt_fail(p, m->text.p, "help text is not valid UTF-8");
    } else if (m->text.len > 0) {
        size_t u = m->text.len, nl = m->name.len;
        if (nl < u + 1 || memcmp(m->name.p + nl - u, m->text.p, u) != 0 ||
            m->name.p[nl - u - 1] != '_') {
            col__expfmt_quote(m->text.p, m->text.len, q, sizeof q);
            return col__expfmt_fail(p, m->text.p, "unit %s not a suffix of metric \"%.*s\"", q,
                                    (int)nl, m->name.p);
        }
    }
    col__expfmt_newline(p, eol);
    p->cur = eol + 1;
    return kind;
}

static int om_comment(struct col_expfmt_parser *p, const char *s)
{
    const char *end = p->end;
    if (end - s < 2 || s[1] != ' ')
        return col__expfmt_fail_got(p, s, "expected a valid start token");
    const char *t = s + 2;
    size_t left = (size_t)(end - t);
    if (left >= 3 && memcmp(t, "EOF", 3) == 0) {
        t += 3;
        if (t < end && *t == '\n')
            col__expfmt_newline(p, t++);
        if (t != end)
            return col__expfmt_fail(p, t, "unexpected data after # EOF");
        p->cur = end;
        return COL_EXPFMT_EOF;
    }
    if (left >= 5 && t[4] == ' ') {
        int kind = memcmp(t, "HELP", 4) == 0   ? COL_EXPFMT_HELP
                   : memcmp(t, "TYPE", 4) == 0 ? COL_EXPFMT_TYPE
                   : memcmp(t, "UNIT", 4) == 0 ? COL_EXPFMT_UNIT : 0;
        if (kind)
            return om_meta(p, kind, t + 5);
    }
    return col__expfmt_fail_got(p, s, "expected a valid start token");
}

int col__expfmt_next_om(struct col_expfmt_parser *p)
{
    const char *s = p->cur;
    if (s == p->end)
        return col__expfmt_fail(p, s, "data does not end with # EOF");
    if (COL__IS(*s, COL__MSTART))
        return om_sample(p, s);
    if (*s == '#')
        return om_comment(p, s);
    return col__expfmt_fail_got(p, s, "expected a valid start token");
}
