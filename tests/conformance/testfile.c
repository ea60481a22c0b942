/* testfile.c — reads a promqltest .test file into commands (FORMAT.md §1–4).
 *
 * Lines are trimmed; a line starting with '#' is blank; a blank line ends a
 * block. Outside a block the first word picks the command (clear, load…,
 * eval…); anything else fails the whole file, as in the Go runner. Header
 * times use config-style durations ("0", "5m", "1h30m"), never floats. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timeparse.h"
#include "tests/conformance/conformance.h"

int conf_parse_duration(const char *s, size_t len, int64_t *out_ms)
{
    if (len == 1 && s[0] == '0') {
        *out_ms = 0;
        return 0;
    }
    return scry_duration_parse(s, len, out_ms, NULL);
}

struct reader {
    struct scry_arena *a;
    const char *path;
    char **lines;
    size_t n;
    struct scry_err *err;
};

static int failf(struct reader *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(struct reader *r, int line, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    scry_err_set(r->err, SCRY_EPARSE, "%s:%d: %s", r->path, line, buf);
    return SCRY_EPARSE;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\v\f", s[n - 1]))
        s[--n] = 0;
    return s;
}

static bool blank(const char *s) { return s[0] == 0; }

/* The next whitespace-delimited word of *s; advances *s past it. */
static size_t word(const char **s, const char **w)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    *w = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    size_t n = (size_t)(p - *w);
    while (*p == ' ' || *p == '\t')
        p++;
    *s = p;
    return n;
}

static bool dur_word(const char **s, int64_t *ms)
{
    const char *w;
    size_t n = word(s, &w);
    return n > 0 && conf_parse_duration(w, n, ms) == 0;
}

static bool expect_word(const char **s, const char *kw)
{
    const char *save = *s, *w;
    size_t n = word(s, &w);
    if (n == strlen(kw) && strncmp(w, kw, n) == 0)
        return true;
    *s = save;
    return false;
}

/* Go's ParseInt(s, 0, 64) then ParseFloat(s, 64), for scalar result lines. */
static bool go_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 0);
    if (*s && !*end && errno == 0) {
        *out = (double)i;
        return true;
    }
    const char *b = s + (*s == '+' || *s == '-');
    if (!strcasecmp(b, "inf") || !strcasecmp(b, "infinity") || !strcasecmp(b, "nan")) {
        double v = (b[0] == 'n' || b[0] == 'N') ? (double)NAN : (double)INFINITY;
        *out = *s == '-' ? -v : v;
        return true;
    }
    if (!*b || !(isdigit((unsigned char)*b) || *b == '.'))
        return false;
    *out = strtod(s, &end);
    return *end == 0;
}

static void series_line(struct reader *r, struct conf_series_line *sl, int line, const char *text)
{
    memset(sl, 0, sizeof(*sl));
    sl->line = line;
    sl->text = scry_arena_strdup(r->a, text);
    const char *sp = strpbrk(text, " \t");
    size_t first = sp ? (size_t)(sp - text) : strlen(text);
    if (first >= 3 && strncmp(text + first - 3, "@st", 3) == 0) {
        sl->start_ts = true; /* values are signed durations; checked loosely */
        return;
    }
    sl->parse_rc = pql_series_parse(r->a, text, strlen(text), &sl->desc, &sl->err);
}

static int parse_load(struct reader *r, size_t *i, struct conf_cmd *c, const char *hdr)
{
    const char *s = hdr, *w;
    size_t n = word(&s, &w);
    c->kind = CONF_LOAD;
    if (n == 4 && strncmp(w, "load", 4) == 0)
        c->with_nhcb = false;
    else if (n == 14 && strncmp(w, "load_with_nhcb", 14) == 0)
        c->with_nhcb = true;
    else
        return failf(r, c->line, "invalid load command: %s", hdr);
    if (!dur_word(&s, &c->step_ms) || *s)
        return failf(r, c->line, "invalid step definition in load command: %s", hdr);
    size_t j = *i + 1, k = 0;
    while (j < r->n && !blank(r->lines[j]))
        j++;
    c->n_series = j - *i - 1;
    c->series = scry_arena_calloc(r->a, c->n_series ? c->n_series : 1, sizeof(*c->series));
    for (size_t l = *i + 1; l < j; l++)
        series_line(r, &c->series[k++], (int)l + 1, r->lines[l]);
    *i = j;
    return 0;
}

static int parse_expect(struct reader *r, struct conf_cmd *c, int line, const char *text,
                        struct conf_expect *out, bool *is_expect)
{
    const char *s = text + 7;
    *is_expect = false;
    if (expect_word(&s, "range")) {
        if (!expect_word(&s, "vector") || !expect_word(&s, "from") ||
            !dur_word(&s, &c->rv_start_ms) || !expect_word(&s, "to") ||
            !dur_word(&s, &c->rv_end_ms) || !expect_word(&s, "step") ||
            !dur_word(&s, &c->rv_step_ms) || *s)
            return failf(r, line, "invalid range vector definition: %s", text);
        c->has_range_vector = true;
        return 0;
    }
    if (expect_word(&s, "string")) {
        size_t n = strlen(s);
        size_t ulen;
        if (pql_unquote(r->a, s, n, &c->string_val, &ulen, NULL) != 0)
            return failf(r, line, "invalid expected string: %s", s);
        c->has_string = true;
        return 0;
    }
    static const char *const kinds[] = { "fail", "warn", "info", "no_warn", "no_info", "ordered" };
    const char *w;
    size_t n = word(&s, &w);
    int kind = -1;
    for (int k = 0; k < 6; k++)
        if (strlen(kinds[k]) == n && strncmp(kinds[k], w, n) == 0)
            kind = k;
    if (kind < 0)
        return failf(r, line, "invalid expect statement: %s", text);
    *is_expect = true;
    memset(out, 0, sizeof(*out));
    out->kind = (enum conf_expect_kind)kind;
    if (*s) {
        if (strncmp(s, "msg:", 4) == 0) {
            char *m = scry_arena_strdup(r->a, s + 4);
            out->msg = trim(m);
        } else if (strncmp(s, "regex:", 6) == 0) {
            char *m = scry_arena_strdup(r->a, s + 6);
            out->regex = trim(m);
        } else {
            return failf(r, line, "invalid expect statement: %s", text);
        }
    }
    return 0;
}

static int parse_eval(struct reader *r, size_t *i, struct conf_cmd *c, const char *hdr)
{
    const char *s = hdr, *w;
    size_t n = word(&s, &w);
    const char *suffix = n > 4 ? w + 4 : "";
    size_t slen = n - 4;
    if (slen > 0 && !(slen == 5 && strncmp(suffix, "_fail", 5) == 0) &&
        !(slen == 5 && strncmp(suffix, "_warn", 5) == 0) &&
        !(slen == 5 && strncmp(suffix, "_info", 5) == 0) &&
        !(slen == 8 && strncmp(suffix, "_ordered", 8) == 0))
        return failf(r, c->line, "invalid eval command: %s", hdr);
    struct conf_expect legacy = { 0 };
    bool has_legacy = slen > 0;
    if (has_legacy)
        legacy.kind = suffix[1] == 'f' ? CONF_EXP_FAIL : suffix[1] == 'w' ? CONF_EXP_WARN
                      : suffix[1] == 'i' ? CONF_EXP_INFO : CONF_EXP_ORDERED;
    if (expect_word(&s, "instant")) {
        c->kind = CONF_EVAL_INSTANT;
        if (!expect_word(&s, "at") || !dur_word(&s, &c->at_ms))
            return failf(r, c->line, "invalid evaluation time in: %s", hdr);
    } else if (expect_word(&s, "range")) {
        c->kind = CONF_EVAL_RANGE;
        if (has_legacy && legacy.kind == CONF_EXP_ORDERED)
            return failf(r, c->line, "invalid eval command: %s", hdr);
        if (!expect_word(&s, "from") || !dur_word(&s, &c->start_ms) || !expect_word(&s, "to") ||
            !dur_word(&s, &c->end_ms) || !expect_word(&s, "step") ||
            !dur_word(&s, &c->step_eval_ms))
            return failf(r, c->line, "invalid range evaluation in: %s", hdr);
        if (c->end_ms < c->start_ms)
            return failf(r, c->line, "invalid test definition, end timestamp (%s) is before start timestamp", hdr);
    } else {
        return failf(r, c->line, "invalid eval command: %s", hdr);
    }
    c->query = scry_arena_strdup(r->a, s);
    size_t j = *i + 1;
    while (j < r->n && !blank(r->lines[j]))
        j++;
    size_t body = j - *i - 1;
    c->expects = scry_arena_calloc(r->a, body + 2, sizeof(*c->expects));
    c->results = scry_arena_calloc(r->a, body + 1, sizeof(*c->results));
    if (has_legacy)
        c->expects[c->n_expects++] = legacy;
    for (size_t l = *i + 1; l < j; l++) {
        const char *text = r->lines[l];
        int line = (int)l + 1;
        if (strncmp(text, "expect ", 7) == 0) {
            bool is_expect;
            if (parse_expect(r, c, line, text, &c->expects[c->n_expects], &is_expect) != 0)
                return SCRY_EPARSE;
            if (is_expect)
                c->n_expects++;
            continue;
        }
        if (strncmp(text, "expected_fail_message ", 22) == 0 ||
            strncmp(text, "expected_fail_regexp ", 21) == 0)
            continue;
        double v;
        if (go_number(text, &v)) {
            c->has_scalar = true;
            c->scalar = v;
            if (l + 1 != j)
                return failf(r, line, "expected a scalar result as the last line of the block");
            break;
        }
        series_line(r, &c->results[c->n_results++], line, text);
    }
    for (size_t k = 0; k < c->n_expects; k++) {
        if (c->expects[k].kind == CONF_EXP_FAIL)
            c->expect_fail = true;
        if (c->expects[k].kind == CONF_EXP_ORDERED)
            c->ordered = true;
    }
    *i = j;
    return 0;
}

static int read_all(const char *path, char **out, size_t *len, struct scry_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return scry_err_sys(err, SCRY_EIO, "open %s", path);
    struct scry_buf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        scry_buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    *out = b.p ? scry_buf_take(&b) : calloc(1, 1);
    return 0;
}

int conf_file_parse(struct scry_arena *a, const char *path, struct conf_file *f,
                    struct scry_err *err)
{
    char *text;
    size_t len;
    int rc = read_all(path, &text, &len, err);
    if (rc != 0)
        return rc;
    memset(f, 0, sizeof(*f));
    f->path = scry_arena_strdup(a, path);
    const char *slash = strrchr(path, '/');
    f->name = scry_arena_strdup(a, slash ? slash + 1 : path);
    struct reader r = { .a = a, .path = f->name, .err = err };
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    r.lines = scry_arena_alloc(a, cap * sizeof(char *));
    char *line = text;
    for (;;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *t = trim(line);
        r.lines[r.n++] = scry_arena_strdup(a, t[0] == '#' ? "" : t);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(text);
    f->cmds = scry_arena_calloc(a, r.n + 1, sizeof(*f->cmds));
    for (size_t i = 0; i < r.n;) {
        const char *l = r.lines[i];
        if (blank(l)) {
            i++;
            continue;
        }
        struct conf_cmd *c = &f->cmds[f->n_cmds++];
        c->line = (int)i + 1;
        char first[32];
        size_t k = 0;
        while (l[k] && l[k] != ' ' && l[k] != '\t' && k < sizeof(first) - 1) {
            first[k] = (char)tolower((unsigned char)l[k]);
            k++;
        }
        first[k] = 0;
        if (strcmp(first, "clear") == 0) {
            c->kind = CONF_CLEAR;
            i++;
        } else if (strncmp(first, "load", 4) == 0) {
            if ((rc = parse_load(&r, &i, c, l)) != 0)
                return rc;
        } else if (strncmp(first, "eval", 4) == 0) {
            if ((rc = parse_eval(&r, &i, c, l)) != 0)
                return rc;
        } else {
            return failf(&r, c->line, "invalid command \"%s\"", l);
        }
    }
    return 0;
}
