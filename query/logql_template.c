/* logql_template.c — the subset of Go's text/template that line_format and
 * label_format templates use in practice: text, `{{.label}}`, `{{ .a | f }}`,
 * `{{ f "x" .a }}`, parenthesised pipelines, `{{- ... -}}` trimming, the
 * functions __line__ and __timestamp__, and the string functions below
 * (Loki's sprig subset). `if`/`range` blocks are not supported: they fail
 * at parse time with a message naming them. Values are strings. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/logql_internal.h"
#include "query/promql.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum fn {
    F_NONE, F_LINE, F_TS, F_UPPER, F_LOWER, F_TITLE, F_TRIM, F_TRIMSPACE, F_DEFAULT, F_REPLACE,
    F_TRUNC, F_PRINTF, F_CONTAINS, F_HASPREFIX, F_HASSUFFIX, F_TRIMPREFIX, F_TRIMSUFFIX,
    F_SUBSTR, F_LEN, F_REGEX_REPLACE,
};

static const struct {
    const char *name;
    enum fn f;
} fns[] = {
    { "__line__", F_LINE }, { "__timestamp__", F_TS }, { "ToUpper", F_UPPER },
    { "toUpper", F_UPPER }, { "upper", F_UPPER }, { "ToLower", F_LOWER }, { "toLower", F_LOWER },
    { "lower", F_LOWER }, { "title", F_TITLE }, { "Title", F_TITLE }, { "trim", F_TRIM },
    { "Trim", F_TRIM }, { "trimSpace", F_TRIMSPACE }, { "TrimSpace", F_TRIMSPACE },
    { "default", F_DEFAULT }, { "replace", F_REPLACE }, { "Replace", F_REPLACE },
    { "trunc", F_TRUNC }, { "printf", F_PRINTF }, { "contains", F_CONTAINS },
    { "hasPrefix", F_HASPREFIX }, { "hasSuffix", F_HASSUFFIX }, { "trimPrefix", F_TRIMPREFIX },
    { "TrimPrefix", F_TRIMPREFIX }, { "trimSuffix", F_TRIMSUFFIX },
    { "TrimSuffix", F_TRIMSUFFIX }, { "substr", F_SUBSTR }, { "len", F_LEN },
    { "regexReplaceAll", F_REGEX_REPLACE },
};

enum arg_kind { A_FIELD, A_STR, A_PIPE, A_FN };

struct tpipe;
struct targ {
    enum arg_kind kind;
    const char *s; /* FIELD name, STR value */
    size_t len;
    enum fn f;     /* FN used as an argument (__line__) */
    struct tpipe *pipe;
};
struct tcmd {
    enum fn f;     /* F_NONE: a single operand */
    void *re, *md; /* regexReplaceAll: compiled once, from a literal */
    struct targ *args;
    size_t n_args;
};
struct tpipe {
    struct tcmd *cmds;
    size_t n_cmds;
};
struct tnode {
    const char *text; /* text node when pipe is NULL */
    size_t len;
    struct tpipe *pipe;
};
struct lql_tmpl {
    struct tnode *nodes;
    size_t n;
    struct tcmd *res[16]; /* for lql__tmpl_fini */
    size_t n_res;
};

struct tp {
    struct scry_arena *a;
    const char *s;
    size_t n, i;
    char *why;
    size_t why_len;
    int depth; /* parenthesised pipelines: bounded, the parser recurses */
    struct tcmd *res[16]; /* commands holding compiled regexes */
    size_t n_res;
};

static void skip_ws(struct tp *t)
{
    while (t->i < t->n && isspace((unsigned char)t->s[t->i]))
        t->i++;
}

static bool at_close(struct tp *t)
{
    skip_ws(t);
    if (t->i + 3 <= t->n && t->s[t->i] == '-' && t->s[t->i + 1] == '}' && t->s[t->i + 2] == '}')
        return true;
    return t->i + 2 <= t->n && t->s[t->i] == '}' && t->s[t->i + 1] == '}';
}

static int fail(struct tp *t, const char *msg)
{
    snprintf(t->why, t->why_len, "%s at byte %zu", msg, t->i);
    return -1;
}

static int parse_pipe(struct tp *t, struct tpipe **out, bool in_paren);

static int parse_arg(struct tp *t, struct targ *a, bool *is_fn)
{
    skip_ws(t);
    *is_fn = false;
    if (t->i >= t->n)
        return fail(t, "unclosed action");
    char c = t->s[t->i];
    if (c == '.') {
        size_t j = ++t->i;
        while (t->i < t->n && (isalnum((unsigned char)t->s[t->i]) || t->s[t->i] == '_'))
            t->i++;
        a->kind = A_FIELD;
        a->s = scry_arena_strndup(t->a, t->s + j, t->i - j);
        a->len = t->i - j;
        return 0;
    }
    if (c == '"' || c == '`') {
        size_t j = t->i + 1;
        while (j < t->n && t->s[j] != c) {
            if (c == '"' && t->s[j] == '\\')
                j++;
            j++;
        }
        if (j >= t->n)
            return fail(t, "unterminated quoted string");
        struct scry_err e = { 0 };
        if (pql_unquote(t->a, t->s + t->i, j + 1 - t->i, &a->s, &a->len, &e))
            return fail(t, "bad string");
        a->kind = A_STR;
        t->i = j + 1;
        return 0;
    }
    if (c == '(') {
        if (++t->depth > 64)
            return fail(t, "template nested too deeply");
        t->i++;
        a->kind = A_PIPE;
        if (parse_pipe(t, &a->pipe, true))
            return -1;
        t->depth--;
        skip_ws(t);
        if (t->i >= t->n || t->s[t->i] != ')')
            return fail(t, "unclosed parenthesis");
        t->i++;
        return 0;
    }
    if (isdigit((unsigned char)c) || c == '-') {
        size_t j = t->i++;
        while (t->i < t->n && (isalnum((unsigned char)t->s[t->i]) || t->s[t->i] == '.'))
            t->i++;
        a->kind = A_STR;
        a->s = scry_arena_strndup(t->a, t->s + j, t->i - j);
        a->len = t->i - j;
        return 0;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t j = t->i;
        while (t->i < t->n && (isalnum((unsigned char)t->s[t->i]) || t->s[t->i] == '_'))
            t->i++;
        size_t len = t->i - j;
        for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++)
            if (strlen(fns[k].name) == len && !memcmp(fns[k].name, t->s + j, len)) {
                a->kind = A_FN;
                a->f = fns[k].f;
                *is_fn = true;
                return 0;
            }
        t->i = j;
        char msg[96];
        snprintf(msg, sizeof msg, "function \"%.*s\" not defined", (int)len, t->s + j);
        return fail(t, msg);
    }
    return fail(t, "unexpected character in action");
}

static int parse_cmd(struct tp *t, struct tcmd *c, bool in_paren)
{
    size_t cap = 4;
    c->args = scry_arena_calloc(t->a, cap, sizeof *c->args);
    for (;;) {
        skip_ws(t);
        if (t->i >= t->n)
            return fail(t, "unclosed action");
        char ch = t->s[t->i];
        if (ch == '|' || (in_paren && ch == ')') || (!in_paren && at_close(t)))
            break;
        struct targ a = { 0 };
        bool is_fn;
        if (parse_arg(t, &a, &is_fn))
            return -1;
        if (is_fn && c->n_args == 0 && c->f == F_NONE && a.f != F_LINE && a.f != F_TS) {
            c->f = a.f;
            continue;
        }
        if (c->n_args == cap) {
            struct targ *w = scry_arena_calloc(t->a, 2 * cap, sizeof *w);
            memcpy(w, c->args, cap * sizeof *w);
            c->args = w;
            cap *= 2;
        }
        c->args[c->n_args++] = a;
    }
    if (c->f == F_NONE && c->n_args == 0)
        return fail(t, "missing value for command");
    if (c->f == F_REGEX_REPLACE) {
        if (c->n_args < 1 || c->args[0].kind != A_STR)
            return fail(t, "regexReplaceAll needs a literal regex as its first argument");
        char why[128];
        c->re = lql__re_compile(c->args[0].s, c->args[0].len, &c->md, why, sizeof why, NULL);
        if (!c->re)
            return fail(t, "regexReplaceAll: bad regex");
        /* remember it for lql__tmpl_fini */
        if (t->n_res < sizeof t->res / sizeof t->res[0])
            t->res[t->n_res++] = c;
        else {
            lql__re_free(c->re, c->md);
            c->re = c->md = NULL;
            return fail(t, "too many regexReplaceAll in one template");
        }
    }
    return 0;
}

static int parse_pipe(struct tp *t, struct tpipe **out, bool in_paren)
{
    struct tpipe *p = scry_arena_calloc(t->a, 1, sizeof *p);
    size_t cap = 2;
    p->cmds = scry_arena_calloc(t->a, cap, sizeof *p->cmds);
    *out = p;
    skip_ws(t);
    /* `if`, `range`, `with`, `end` ... are real Go syntax we do not run */
    static const char *const blocks[] = { "if", "else", "end", "range", "with", "define",
                                           "template", "block" };
    for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
        size_t l = strlen(blocks[k]);
        if (t->i + l <= t->n && !memcmp(t->s + t->i, blocks[k], l) &&
            (t->i + l == t->n || !isalnum((unsigned char)t->s[t->i + l]))) {
            char msg[80];
            snprintf(msg, sizeof msg, "template action \"%s\" is not supported", blocks[k]);
            return fail(t, msg);
        }
    }
    for (;;) {
        if (p->n_cmds == cap) {
            struct tcmd *w = scry_arena_calloc(t->a, 2 * cap, sizeof *w);
            memcpy(w, p->cmds, cap * sizeof *w);
            p->cmds = w;
            cap *= 2;
        }
        if (parse_cmd(t, &p->cmds[p->n_cmds++], in_paren))
            return -1;
        skip_ws(t);
        if (t->i < t->n && t->s[t->i] == '|') {
            t->i++;
            continue;
        }
        return 0;
    }
}

int lql__tmpl_compile(struct scry_arena *a, const char *src, size_t len, struct lql_tmpl **out,
                      char *why, size_t why_len)
{
    struct tp t = { .a = a, .s = src, .n = len, .why = why, .why_len = why_len };
    struct lql_tmpl *tm = scry_arena_calloc(a, 1, sizeof *tm);
    size_t cap = 4;
    tm->nodes = scry_arena_calloc(a, cap, sizeof *tm->nodes);
    bool trim_next = false;
    while (t.i < t.n) {
        const char *open = NULL;
        for (size_t j = t.i; j + 1 < t.n; j++)
            if (src[j] == '{' && src[j + 1] == '{') {
                open = src + j;
                break;
            }
        size_t text_end = open ? (size_t)(open - src) : t.n;
        size_t ts = t.i;
        bool trim_prev = open && (size_t)(open - src) + 3 < t.n + 1 && open[2] == '-' &&
                         open + 3 < src + t.n && isspace((unsigned char)open[3]);
        if (trim_next)
            while (ts < text_end && isspace((unsigned char)src[ts]))
                ts++;
        size_t te = text_end;
        if (trim_prev)
            while (te > ts && isspace((unsigned char)src[te - 1]))
                te--;
        if (tm->n + 2 > cap) {
            struct tnode *w = scry_arena_calloc(a, 2 * cap, sizeof *w);
            memcpy(w, tm->nodes, tm->n * sizeof *w);
            tm->nodes = w;
            cap *= 2;
        }
        if (te > ts)
            tm->nodes[tm->n++] = (struct tnode){ .text = src + ts, .len = te - ts };
        if (!open)
            break;
        t.i = text_end + 2 + (trim_prev ? 1 : 0);
        struct tnode *nd = &tm->nodes[tm->n++];
        memset(nd, 0, sizeof *nd);
        bool bad = parse_pipe(&t, &nd->pipe, false) != 0;
        if (!bad && !at_close(&t))
            bad = fail(&t, "unexpected text in action") != 0;
        if (bad) {
            for (size_t k = 0; k < t.n_res; k++)
                lql__re_free(t.res[k]->re, t.res[k]->md);
            return -1;
        }
        trim_next = t.s[t.i] == '-';
        t.i += trim_next ? 3 : 2;
    }
    memcpy(tm->res, t.res, sizeof t.res);
    tm->n_res = t.n_res;
    *out = tm;
    return 0;
}

void lql__tmpl_fini(struct lql_tmpl *t)
{
    if (!t)
        return;
    for (size_t k = 0; k < t->n_res; k++) {
        lql__re_free(t->res[k]->re, t->res[k]->md);
        t->res[k]->re = t->res[k]->md = NULL;
    }
    t->n_res = 0;
}

/* ---- execution ---- */

struct val {
    const char *p;
    size_t len;
};

static struct val mk(struct scry_arena *a, const char *p, size_t len)
{
    char *c = scry_arena_alloc(a, len + 1);
    memcpy(c, p, len);
    c[len] = 0;
    return (struct val){ c, len };
}

static struct val run_pipe(const struct tpipe *p, const struct lql_row *r);

static struct val go_time(const struct lql_row *r)
{
    time_t s = (time_t)(r->t_ns / 1000000000);
    long ns = (long)(r->t_ns % 1000000000);
    if (ns < 0)
        ns += 1000000000, s--;
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[80];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    if (ns) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09ld", ns);
        size_t fl = strlen(frac);
        while (frac[fl - 1] == '0')
            fl--;
        memcpy(buf + n, frac, fl);
        n += fl;
    }
    memcpy(buf + n, " +0000 UTC", 10);
    return mk(r->ea, buf, n + 10);
}

static struct val eval_arg(const struct targ *a, const struct lql_row *r)
{
    switch (a->kind) {
    case A_FIELD: {
        if (a->len == 0)
            return (struct val){ r->line, r->line_len };
        const struct lql_lbl *l = lql__row_get(r, a->s);
        return l ? (struct val){ l->val, l->vlen } : (struct val){ "", 0 };
    }
    case A_STR: return (struct val){ a->s, a->len };
    case A_PIPE: return run_pipe(a->pipe, r);
    case A_FN:
        if (a->f == F_LINE)
            return (struct val){ r->line, r->line_len };
        if (a->f == F_TS)
            return go_time(r);
        return (struct val){ "", 0 };
    }
    return (struct val){ "", 0 };
}

static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0)
        return h;
    return nl <= hl ? memmem(h, hl, n, nl) : NULL;
}

static struct val bool_val(bool b) { return b ? (struct val){ "true", 4 } : (struct val){ "false", 5 }; }

static struct val apply(const struct tcmd *cmd, struct val *v, size_t n, const struct lql_row *r)
{
    enum fn f = cmd->f;
    struct scry_arena *a = r->ea;
    struct val last = n ? v[n - 1] : (struct val){ "", 0 };
    switch (f) {
    case F_NONE: return last;
    case F_LINE: return (struct val){ r->line, r->line_len };
    case F_TS: return go_time(r);
    case F_UPPER:
    case F_LOWER:
    case F_TITLE: {
        struct val o = mk(a, last.p, last.len);
        char *c = (char *)o.p;
        for (size_t i = 0; i < o.len; i++) {
            if (f == F_UPPER)
                c[i] = (char)toupper((unsigned char)c[i]);
            else if (f == F_LOWER)
                c[i] = (char)tolower((unsigned char)c[i]);
            else if (i == 0 || isspace((unsigned char)c[i - 1]))
                c[i] = (char)toupper((unsigned char)c[i]);
        }
        return o;
    }
    case F_TRIM:
    case F_TRIMSPACE: {
        size_t s = 0, e = last.len;
        while (s < e && isspace((unsigned char)last.p[s]))
            s++;
        while (e > s && isspace((unsigned char)last.p[e - 1]))
            e--;
        return (struct val){ last.p + s, e - s };
    }
    case F_DEFAULT: return n >= 2 && last.len == 0 ? v[0] : last;
    case F_CONTAINS: return n >= 2 ? bool_val(find(last.p, last.len, v[0].p, v[0].len)) : last;
    case F_HASPREFIX: /* sprig hasPrefix(prefix, s) */
        return n >= 2 ? bool_val(last.len >= v[0].len && !memcmp(last.p, v[0].p, v[0].len))
                      : last;
    case F_HASSUFFIX:
        return n >= 2 ? bool_val(last.len >= v[0].len &&
                                 !memcmp(last.p + last.len - v[0].len, v[0].p, v[0].len))
                      : last;
    case F_TRIMPREFIX:
        /* sprig trimPrefix(prefix, s) */
        if (n >= 2 && last.len >= v[0].len && !memcmp(last.p, v[0].p, v[0].len))
            return (struct val){ last.p + v[0].len, last.len - v[0].len };
        return last;
    case F_TRIMSUFFIX:
        if (n >= 2 && last.len >= v[0].len &&
            !memcmp(last.p + last.len - v[0].len, v[0].p, v[0].len))
            return (struct val){ last.p, last.len - v[0].len };
        return last;
    case F_REGEX_REPLACE: {
        /* sprig regexReplaceAll(regex, s, repl): $1, ${1}, ${name} */
        if (n < 3 || !cmd->re)
            return last;
        struct val src = v[1], repl = v[2];
        PCRE2_SIZE outlen = src.len * 2 + repl.len + 64;
        for (int tries = 0; tries < 2; tries++) {
            char *o = scry_arena_alloc(a, outlen + 1);
            PCRE2_SIZE ol = outlen + 1;
            int rc = pcre2_substitute(cmd->re, (PCRE2_SPTR)src.p, src.len, 0,
                                      PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
                                          PCRE2_SUBSTITUTE_UNKNOWN_UNSET |
                                          PCRE2_SUBSTITUTE_UNSET_EMPTY,
                                      cmd->md, NULL, (PCRE2_SPTR)repl.p, repl.len,
                                      (PCRE2_UCHAR *)o, &ol);
            if (rc >= 0)
                return (struct val){ o, ol };
            if (rc != PCRE2_ERROR_NOMEMORY)
                return src;
            outlen = ol;
        }
        return src;
    }
    case F_LEN: {
        char b[24];
        int l = snprintf(b, sizeof b, "%zu", last.len);
        return mk(a, b, (size_t)l);
    }
    case F_TRUNC: {
        if (n < 2)
            return last;
        long k = strtol(v[0].p, NULL, 10);
        if (k >= 0)
            return (struct val){ last.p, (size_t)k < last.len ? (size_t)k : last.len };
        size_t m = (size_t)-k;
        return m < last.len ? (struct val){ last.p + last.len - m, m } : last;
    }
    case F_SUBSTR: {
        if (n < 3)
            return last;
        long s = strtol(v[0].p, NULL, 10), e = strtol(v[1].p, NULL, 10);
        if (s < 0)
            s = 0;
        if (e < 0 || (size_t)e > last.len)
            e = (long)last.len;
        if (s > e)
            return (struct val){ "", 0 };
        return (struct val){ last.p + s, (size_t)(e - s) };
    }
    case F_REPLACE: {
        if (n < 3 || v[0].len == 0)
            return last;
        struct scry_buf b;
        scry_buf_init(&b);
        const char *p = last.p, *end = last.p + last.len, *hit;
        while ((hit = find(p, (size_t)(end - p), v[0].p, v[0].len))) {
            scry_buf_put(&b, p, (size_t)(hit - p));
            scry_buf_put(&b, v[1].p, v[1].len);
            p = hit + v[0].len;
        }
        scry_buf_put(&b, p, (size_t)(end - p));
        struct val o = mk(a, b.p ? b.p : "", b.len);
        scry_buf_fini(&b);
        return o;
    }
    case F_PRINTF: {
        if (n == 0)
            return (struct val){ "", 0 };
        struct scry_buf b;
        scry_buf_init(&b);
        size_t ai = 1;
        for (size_t i = 0; i < v[0].len; i++) {
            char c = v[0].p[i];
            if (c != '%' || i + 1 >= v[0].len) {
                scry_buf_putc(&b, c);
                continue;
            }
            char d = v[0].p[++i];
            if (d == '%') {
                scry_buf_putc(&b, '%');
            } else if (ai < n) {
                if (d == 'q')
                    pql_quote(v[ai].p, v[ai].len, &b);
                else
                    scry_buf_put(&b, v[ai].p, v[ai].len);
                ai++;
            } else {
                scry_buf_printf(&b, "%%!%c(MISSING)", d);
            }
        }
        struct val o = mk(a, b.p ? b.p : "", b.len);
        scry_buf_fini(&b);
        return o;
    }
    }
    return last;
}

static struct val run_pipe(const struct tpipe *p, const struct lql_row *r)
{
    struct val prev = { "", 0 };
    for (size_t i = 0; i < p->n_cmds; i++) {
        const struct tcmd *c = &p->cmds[i];
        size_t n = c->n_args + (i > 0);
        struct val vs[16];
        if (n > 16)
            n = 16;
        size_t k = 0;
        for (; k < c->n_args && k < 16; k++)
            vs[k] = eval_arg(&c->args[k], r);
        if (i > 0 && k < 16)
            vs[k] = prev;
        prev = apply(c, vs, n, r);
    }
    return prev;
}

void lql__tmpl_exec(const struct lql_tmpl *t, const struct lql_row *r, struct scry_buf *out)
{
    scry_buf_reset(out);
    for (size_t i = 0; i < t->n; i++) {
        if (!t->nodes[i].pipe) {
            scry_buf_put(out, t->nodes[i].text, t->nodes[i].len);
            continue;
        }
        struct val v = run_pipe(t->nodes[i].pipe, r);
        scry_buf_put(out, v.p, v.len);
    }
    if (!out->p)
        scry_buf_put(out, "", 0);
}
