/* expfmt_text.c — the Prometheus text format 0.0.4, as Prometheus 2.x
 * parses it (model/textparse/promlex.l and promparse.go).
 *
 * The lexer there skips spaces and tabs between any two tokens, allows
 * blank lines and free-form "#" comments, lets label values hold raw
 * newlines, and needs no comma between labels; we accept exactly that,
 * because a target that Prometheus scrapes must scrape here too. Every line,
 * the last one included, must end in '\n'. Messages use promparse.go's
 * words ("expected label value, got ...") with a line number in front.
 *
 * One pass, no backtracking: each byte is classified once through
 * col__expfmt_cls, so a typical node_exporter line of ~60 bytes costs about
 * as many table lookups plus one float parse. */
#include "collector/expfmt_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/labels.h"

/* Blanks between tokens are rare in practice, so test one byte inline and
 * loop only when there is one. */
static inline const char *skip_ws(const char *s, const char *end)
{
    if (__builtin_expect(s < end && (*s == ' ' || *s == '\t'), 0))
        do
            s++;
        while (s < end && (*s == ' ' || *s == '\t'));
    return s;
}

/* Whether the next token is c, skipping blanks only when it is not. */
static inline bool want(const char **sp, const char *end, char c)
{
    const char *s = *sp;
    if (s < end && *s == c)
        return true;
    *sp = s = skip_ws(s, end);
    return s < end && *s == c;
}

static inline const char *scan_name(const char *s, const char *end, unsigned cont)
{
    return col__expfmt_scan_name(s + 1, end, cont == COL__MCONT);
}

/* Parses labels after '{' up to and including '}'. */
static int text_labels(struct col_expfmt_parser *p, const char *s, const char **out, size_t *n_out)
{
    const char *end = p->end;
    size_t n = 0;
    for (;;) {
        s = skip_ws(s, end);
        if (s < end && *s == '}')
            break;
        if (s == end || !COL__IS(*s, COL__LSTART))
            return col__expfmt_fail_got(p, s, "expected label name");
        const char *ln = s;
        s = scan_name(s, end, COL__LCONT);
        struct scry_str name = { ln, (size_t)(s - ln) };
        if (!want(&s, end, '='))
            return col__expfmt_fail_got(p, s, "expected equal");
        s++;
        if (!want(&s, end, '"'))
            return col__expfmt_fail_got(p, s, "expected label value");
        int line0 = p->line;
        const char *ls0 = p->line_start, *vs = s + 1;
        bool esc = false, high = false;
        const char *q = col__expfmt_scan_value(p, vs, true, &esc, &high);
        if (!q) {
            p->line = line0;
            p->line_start = ls0;
            return col__expfmt_fail_got(p, s, "expected label value");
        }
        struct scry_str val = { vs, (size_t)(q - vs) };
        if (high && !col__expfmt_utf8_valid(val.p, val.len))
            return col__expfmt_fail(p, vs, "invalid UTF-8 label value");
        /* Prometheus adds the metric name as __name__ first, so a
         * __name__ label is a duplicate there too. */
        if (col__expfmt_has(p->lab, n, name) || col__expfmt_is_name_label(name))
            return col__expfmt_fail(p, ln, "duplicate label name \"%.*s\"", (int)name.len, name.p);
        struct col_expfmt_label *l = col__expfmt_label(p, n++);
        l->name = name;
        l->value = val;
        l->escaped = esc;
        s = q + 1;
        if (want(&s, end, ','))
            s++;
    }
    *out = s + 1;
    *n_out = n;
    return 0;
}

static int text_sample(struct col_expfmt_parser *p, const char *s)
{
    const char *end = p->end, *start = s;
    struct col_expfmt_sample *m = &p->sample;
    s = scan_name(s, end, COL__MCONT);
    m->name = (struct scry_str){ start, (size_t)(s - start) };
    m->series = m->name;
    size_t n = 0;
    s = skip_ws(s, end);
    if (s < end && *s == '{') {
        int rc = text_labels(p, s + 1, &s, &n);
        if (rc)
            return rc;
        m->series.len = (size_t)(s - start);
        s = skip_ws(s, end);
    }
    const char *v = s;
    s = col__expfmt_scan(s, end, COL__TVAL);
    if (s == v)
        return col__expfmt_fail_got(p, v, "expected value after metric");
    int rc = col__expfmt_float(v, (size_t)(s - v), &m->value);
    if (rc) {
        char q[COL__QUOTE_MAX];
        col__expfmt_quote(v, (size_t)(s - v), q, sizeof q);
        return col__expfmt_fail(p, v, rc == -2 ? "value %s out of range" : "invalid value %s", q);
    }
    if (isnan(m->value)) {
        /* Prometheus's value.NormalNaN; StaleNaN must not be forgeable. */
        uint64_t bits = 0x7ff8000000000001ULL;
        memcpy(&m->value, &bits, sizeof bits);
    }
    s = skip_ws(s, end);
    m->has_ts = false;
    if (s < end && *s >= '0' && *s <= '9') {
        const char *t = s;
        uint64_t ts = 0;
        for (; s < end && *s >= '0' && *s <= '9'; s++) {
            if (ts > ((uint64_t)INT64_MAX - 9) / 10) {
                char q[COL__QUOTE_MAX];
                while (s < end && *s >= '0' && *s <= '9')
                    s++;
                col__expfmt_quote(t, (size_t)(s - t), q, sizeof q);
                return col__expfmt_fail(p, t, "timestamp %s out of range", q);
            }
            ts = ts * 10 + (uint64_t)(*s - '0');
        }
        m->has_ts = true;
        m->ts_ms = (int64_t)ts;
        s = skip_ws(s, end);
        if (s == end || *s != '\n')
            return col__expfmt_fail_got(p, s, "expected next entry after timestamp");
    } else if (s == end || *s != '\n') {
        return col__expfmt_fail_got(p, s, "expected timestamp or new record");
    }
    col__expfmt_newline(p, s);
    p->cur = s + 1;
    m->labels = p->lab;
    m->n_labels = n;
    m->has_exemplar = false;
    m->created = false;
    return COL_EXPFMT_SAMPLE;
}

static bool word(const char *s, const char *eol, const char *w)
{
    return eol - s > 4 && memcmp(s, w, 4) == 0 && (s[4] == ' ' || s[4] == '\t');
}

static int text_meta(struct col_expfmt_parser *p, int kind, const char *s, const char *eol)
{
    const char *end = p->end;
    struct col_expfmt_meta *m = &p->meta;
    const char *what = kind == COL_EXPFMT_HELP ? "HELP" : "TYPE";
    if (s == eol || !COL__IS(*s, COL__MSTART)) {
        char exp[40];
        snprintf(exp, sizeof exp, "expected metric name after %s", what);
        return col__expfmt_fail_got(p, s, exp);
    }
    const char *x = scan_name(s, eol, COL__MCONT);
    m->name = (struct scry_str){ s, (size_t)(x - s) };
    /* promlex.l's text token is the rest of the line; promparse.go drops
     * its first byte (the separating blank). */
    m->text = x < eol ? (struct scry_str){ x + 1, (size_t)(eol - x - 1) }
                      : (struct scry_str){ x, 0 };
    m->escaped = memchr(m->text.p, '\\', m->text.len) != NULL;
    m->type = COL_METRIC_UNKNOWN;
    if (kind == COL_EXPFMT_TYPE) {
#define T(z, t) { z, sizeof z - 1, t }
        static const struct { const char *z; size_t len; enum col_metric_type t; } types[] = {
            T("counter", COL_METRIC_COUNTER), T("gauge", COL_METRIC_GAUGE),
            T("histogram", COL_METRIC_HISTOGRAM), T("summary", COL_METRIC_SUMMARY),
            T("untyped", COL_METRIC_UNKNOWN),
        };
#undef T
        size_t i = 0, n_types = sizeof types / sizeof types[0];
        while (i < n_types && !(m->text.len == types[i].len && memcmp(m->text.p, types[i].z, types[i].len) == 0))
            i++;
        if (i == n_types) {
            char q[COL__QUOTE_MAX];
            col__expfmt_quote(m->text.p, m->text.len, q, sizeof q);
            return col__expfmt_fail(p, m->text.p, "invalid metric type %s", q);
        }
        m->type = types[i].t;
        p->family = m->name;
        p->family_type = m->type;
    } else if (!col__expfmt_utf8_valid(m->text.p, m->text.len)) {
        return col__expfmt_fail(p, m->text.p, "help text is not valid UTF-8");
    }
    if (eol == end)
        return col__expfmt_fail_got(p, eol, "linebreak expected after metadata");
    col__expfmt_newline(p, eol);
    p->cur = eol + 1;
    return kind;
}

static int text_comment(struct col_expfmt_parser *p, const char *s)
{
    const char *end = p->end;
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    if (!eol)
        eol = end;
    /* "# HELP" and "# TYPE" need a blank after '#' and after the keyword;
     * anything else starting with '#' is a comment. */
    if (s + 1 < eol && (s[1] == ' ' || s[1] == '\t')) {
        const char *t = skip_ws(s + 1, eol);
        int kind = word(t, eol, "HELP") ? COL_EXPFMT_HELP
                 : word(t, eol, "TYPE") ? COL_EXPFMT_TYPE : 0;
        if (kind)
            return text_meta(p, kind, skip_ws(t + 4, eol), eol);
    }
    if (eol == end)
        return col__expfmt_fail_got(p, eol, "linebreak expected after comment");
    p->meta.name = (struct scry_str){ s, 0 };
    p->meta.text = (struct scry_str){ s, (size_t)(eol - s) };
    p->meta.escaped = false;
    p->meta.type = COL_METRIC_UNKNOWN;
    col__expfmt_newline(p, eol);
    p->cur = eol + 1;
    return COL_EXPFMT_COMMENT;
}

int col__expfmt_next_text(struct col_expfmt_parser *p)
{
    const char *s = p->cur, *end = p->end;
    for (;;) {
        s = skip_ws(s, end);
        if (s == end) {
            p->cur = s;
            return COL_EXPFMT_EOF;
        }
        if (*s != '\n')
            break;
        col__expfmt_newline(p, s); /* blank lines are allowed */
        s++;
    }
    p->cur = s;
    if (COL__IS(*s, COL__MSTART))
        return text_sample(p, s);
    if (*s == '#')
        return text_comment(p, s);
    return col__expfmt_fail_got(p, s, "expected a valid start token");
}
