/* logql_parse_log.c — stream selectors and pipeline stages.
 *
 * A pipeline is a flat list of stages run in order for each entry: line
 * filters (`|= "x" or "y"`, `!~ "re"`, `|= ip("10.0.0.0/8")`), parsers
 * (json, logfmt, regexp, pattern, unpack), label filters (a tree of and/or
 * over string, number, duration, bytes and ip comparisons), formatters
 * (line_format, label_format), drop, keep, decolorize and, in range
 * aggregations, unwrap. */
#include <arpa/inet.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "query/logql_internal.h"
#include "query/promql_internal.h"

/* ---- regexes (line filters, regexp parser) ---- */

void *lql__re_compile(const char *src, size_t len, void **md, char *why, size_t why_len,
                      size_t *err_off)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, len,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C,
                                   &code, &off, NULL);
    if (!re) {
        pcre2_get_error_message(code, (PCRE2_UCHAR *)why, why_len);
        if (err_off)
            *err_off = off;
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *md = pcre2_match_data_create_from_pattern(re, NULL);
    return re;
}

bool lql__re_match(void *re, void *md, const char *s, size_t len)
{
    /* PCRE2_MATCH_INVALID_UTF: lines need not be valid UTF-8 */
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* JIT stack limit: retry without JIT */
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT, md, NULL);
    return rc >= 0;
}

void lql__re_free(void *re, void *md)
{
    if (md)
        pcre2_match_data_free(md);
    if (re)
        pcre2_code_free(re);
}

/* ---- ip("...") ---- */

static bool parse_addr(const char *s, size_t len, uint8_t out[16])
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

bool lql__ip_parse(const char *s, size_t len, struct lql_fval *f)
{
    const char *slash = memchr(s, '/', len), *dash = memchr(s, '-', len);
    if (slash) {
        if (!parse_addr(s, (size_t)(slash - s), f->ip_addr))
            return false;
        size_t bl = len - (size_t)(slash - s) - 1;
        if (bl == 0 || bl > 3)
            return false;
        int bits = 0;
        for (size_t i = 0; i < bl; i++) {
            char c = slash[1 + i];
            if (c < '0' || c > '9')
                return false;
            bits = bits * 10 + (c - '0');
        }
        bool v4 = !memchr(s, ':', (size_t)(slash - s));
        if (v4)
            bits += 96;
        if (bits > 128 || (v4 && bits < 96))
            return false;
        for (int i = 0; i < 16; i++) {
            int keep = bits - 8 * i;
            uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
            f->ip_addr[i] &= mask;
            f->ip_hi[i] = f->ip_addr[i] | (uint8_t)~mask;
        }
        return true;
    }
    if (dash) {
        return parse_addr(s, (size_t)(dash - s), f->ip_addr) &&
               parse_addr(dash + 1, len - (size_t)(dash - s) - 1, f->ip_hi) &&
               memcmp(f->ip_addr, f->ip_hi, 16) <= 0;
    }
    if (!parse_addr(s, len, f->ip_addr))
        return false;
    memcpy(f->ip_hi, f->ip_addr, 16);
    return true;
}

static bool in_range(const struct lql_fval *f, const uint8_t a[16])
{
    return memcmp(a, f->ip_addr, 16) >= 0 && memcmp(a, f->ip_hi, 16) <= 0;
}

static bool ip_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == '.' || c == ':';
}

/* Any address-looking run of s inside the range (Loki's line ip filter). */
bool lql__ip_match(const struct lql_fval *f, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (!ip_char(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && ip_char(s[j]))
            j++;
        uint8_t a[16];
        if (j - i >= 2 && parse_addr(s + i, j - i, a) && in_range(f, a))
            return true;
        i = j;
    }
    return false;
}

/* ---- selector ---- */

static int parse_selector(struct lql_parser *p, struct lql_log *log)
{
    size_t open = p->tok.pos;
    lql__advance(p); /* { */
    size_t cap = 4, n = 0;
    struct scry_matcher *ms = scry_arena_calloc(p->a, cap, sizeof *ms);
    log->matchers = ms;
    while (p->tok.t != T_RBRACE) {
        if (p->tok.t != T_IDENT)
            return lql__unexpected(p, "IDENTIFIER");
        const char *name = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
        lql__advance(p);
        enum scry_match_type type;
        switch (p->tok.t) {
        case T_EQ: type = SCRY_MATCH_EQ; break;
        case T_NEQ: type = SCRY_MATCH_NEQ; break;
        case T_RE: type = SCRY_MATCH_RE; break;
        case T_NRE: type = SCRY_MATCH_NRE; break;
        default: return lql__unexpected(p, "=, !=, =~ or !~");
        }
        lql__advance(p);
        size_t vpos = p->tok.pos;
        const char *val;
        size_t vlen;
        if (lql__string(p, &val, &vlen))
            return SCRY_EPARSE;
        if (n == cap) {
            struct scry_matcher *w = scry_arena_calloc(p->a, 2 * cap, sizeof *w);
            memcpy(w, ms, n * sizeof *ms);
            ms = w, cap *= 2;
            log->matchers = ms;
        }
        struct scry_err e = { 0 };
        if (scry_matcher_init(&ms[n], type, name, val, &e))
            return lql__fail(p, vpos, "%s", e.msg);
        log->n_matchers = ++n;
        if (p->tok.t == T_COMMA)
            lql__advance(p);
        else if (p->tok.t != T_RBRACE)
            return lql__unexpected(p, ", or }");
    }
    lql__advance(p);
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        if (!scry_matcher_matches(&ms[i], "", 0))
            ok = true;
    if (!ok)
        return lql__fail(p, open, "queries require at least one regexp or equality matcher "
                         "that does not have an empty-compatible value. For instance, "
                         "app=~\".*\" does not meet this requirement, but app=~\".+\" will");
    return 0;
}

/* ---- stage helpers ---- */

static struct lql_stage *add_stage(struct lql_parser *p, struct lql_log *log,
                                   enum lql_stage_kind k, size_t *cap)
{
    if (log->n_stages == *cap) {
        size_t nc = *cap ? 2 * *cap : 4;
        struct lql_stage *w = scry_arena_calloc(p->a, nc, sizeof *w);
        if (log->n_stages)
            memcpy(w, log->stages, log->n_stages * sizeof *w);
        log->stages = w;
        *cap = nc;
    }
    struct lql_stage *st = &log->stages[log->n_stages++];
    memset(st, 0, sizeof *st);
    st->kind = k;
    return st;
}

static bool peek_is(struct lql_parser *p, enum lql_tok t)
{
    struct lql_lexer save = p->lx;
    struct lql_token tok;
    lql__lex_next(&p->lx, &tok);
    p->lx = save;
    return tok.t == t;
}

static int parse_fval(struct lql_parser *p, enum lql_filter_op op, struct lql_fval *f)
{
    if (lql__tok_is(p, "ip")) {
        size_t pos = p->tok.pos;
        lql__advance(p);
        if (lql__expect(p, T_LPAREN, "(") || lql__string(p, &f->s, &f->len) ||
            lql__expect(p, T_RPAREN, ")"))
            return SCRY_EPARSE;
        if (op != LQL_CONTAINS && op != LQL_NOT_CONTAINS)
            return lql__fail(p, pos, "syntax error: ip() is only allowed with |= and !=");
        f->ip = true;
        if (!lql__ip_parse(f->s, f->len, f))
            return lql__fail(p, pos, "invalid ip filter: %.*s", (int)f->len, f->s);
        return 0;
    }
    size_t pos = p->tok.pos;
    if (lql__string(p, &f->s, &f->len))
        return SCRY_EPARSE;
    if (op == LQL_MATCH || op == LQL_NOT_MATCH) {
        char why[128];
        size_t off = 0;
        f->re = lql__re_compile(f->s, f->len, &f->md, why, sizeof why, &off);
        if (!f->re)
            return lql__fail(p, pos, "error parsing regexp: %s at offset %zu", why, off);
    }
    if (op == LQL_PATTERN || op == LQL_NOT_PATTERN) {
        char why[160];
        if (lql__pattern_compile_filter(p->a, f->s, f->len, &f->pat, &f->n_pat, why, sizeof why))
            return lql__fail(p, pos, "%s", why);
    }
    return 0;
}

static int parse_line_filter(struct lql_parser *p, struct lql_log *log, size_t *cap)
{
    enum lql_filter_op op = p->tok.t == T_PIPE_EQ ? LQL_CONTAINS
                          : p->tok.t == T_NEQ     ? LQL_NOT_CONTAINS
                          : p->tok.t == T_PIPE_RE ? LQL_MATCH
                          : p->tok.t == T_NRE     ? LQL_NOT_MATCH
                          : p->tok.t == T_PIPE_PAT ? LQL_PATTERN
                                                   : LQL_NOT_PATTERN;
    lql__advance(p);
    struct lql_stage *st = add_stage(p, log, LQL_ST_FILTER, cap);
    st->u.filter.op = op;
    size_t vcap = 2;
    st->u.filter.vals = scry_arena_calloc(p->a, vcap, sizeof *st->u.filter.vals);
    for (;;) {
        if (st->u.filter.n_vals == vcap) {
            struct lql_fval *w = scry_arena_calloc(p->a, 2 * vcap, sizeof *w);
            memcpy(w, st->u.filter.vals, vcap * sizeof *w);
            st->u.filter.vals = w;
            vcap *= 2;
        }
        struct lql_fval *f = &st->u.filter.vals[st->u.filter.n_vals];
        if (p->tok.t != T_STRING && !lql__tok_is(p, "ip"))
            return lql__unexpected(p, "STRING");
        int rc = parse_fval(p, op, f);
        st->u.filter.n_vals++; /* counted even on failure: fini frees its regex */
        if (rc)
            return rc;
        if (lql__tok_is(p, "or") && (peek_is(p, T_STRING) || peek_is(p, T_IDENT)))
            lql__advance(p);
        else
            break;
    }
    return 0;
}

/* `a="x", b` (json, logfmt), `a=b, c="{{.x}}"` (label_format), `a, b="v"`
 * (drop, keep). */
enum kv_mode { KV_EXTRACT, KV_FORMAT, KV_NAMES };

static int parse_kvs(struct lql_parser *p, struct lql_stage *st, enum kv_mode mode)
{
    size_t cap = 4;
    st->u.kv.kv = scry_arena_calloc(p->a, cap, sizeof *st->u.kv.kv);
    for (;;) {
        if (p->tok.t != T_IDENT) {
            if (mode == KV_EXTRACT && st->u.kv.n_kv == 0)
                return 0; /* bare `| json` */
            return lql__unexpected(p, "IDENTIFIER");
        }
        if (st->u.kv.n_kv == cap) {
            struct lql_kv *w = scry_arena_calloc(p->a, 2 * cap, sizeof *w);
            memcpy(w, st->u.kv.kv, cap * sizeof *w);
            st->u.kv.kv = w;
            cap *= 2;
        }
        struct lql_kv *kv = &st->u.kv.kv[st->u.kv.n_kv];
        kv->name = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
        lql__advance(p);
        size_t len;
        if (mode == KV_FORMAT) {
            if (lql__expect(p, T_EQ, "="))
                return SCRY_EPARSE;
            if (p->tok.t == T_IDENT) {
                kv->value = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
                lql__advance(p);
            } else {
                size_t pos = p->tok.pos;
                if (lql__string(p, &kv->value, &len))
                    return SCRY_EPARSE;
                kv->is_tmpl = true;
                char why[160];
                if (lql__tmpl_compile(p->a, kv->value, len, &kv->tmpl, why, sizeof why))
                    return lql__fail(p, pos, "invalid label format template: %s", why);
            }
        } else if (mode == KV_EXTRACT) {
            if (p->tok.t == T_EQ) {
                lql__advance(p);
                if (lql__string(p, &kv->value, &len))
                    return SCRY_EPARSE;
            }
        } else if (p->tok.t == T_EQ || p->tok.t == T_NEQ || p->tok.t == T_RE ||
                   p->tok.t == T_NRE) {
            enum scry_match_type t = p->tok.t == T_EQ    ? SCRY_MATCH_EQ
                                   : p->tok.t == T_NEQ   ? SCRY_MATCH_NEQ
                                   : p->tok.t == T_RE    ? SCRY_MATCH_RE
                                                         : SCRY_MATCH_NRE;
            lql__advance(p);
            size_t pos = p->tok.pos;
            if (lql__string(p, &kv->value, &len))
                return SCRY_EPARSE;
            kv->m = scry_arena_calloc(p->a, 1, sizeof *kv->m);
            struct scry_err e = { 0 };
            st->u.kv.n_kv++;
            if (scry_matcher_init(kv->m, t, kv->name, kv->value, &e)) {
                kv->m = NULL;
                return lql__fail(p, pos, "%s", e.msg);
            }
            st->u.kv.n_kv--;
        }
        st->u.kv.n_kv++;
        if (p->tok.t != T_COMMA)
            return 0;
        lql__advance(p);
    }
}

/* ---- label filters ---- */

static int parse_lf_or(struct lql_parser *p, struct lql_lf **out);

static int cmp_at(const struct lql_parser *p, enum lql_cmp *c)
{
    switch (p->tok.t) {
    case T_EQ: case T_EQEQ: *c = LQL_EQ; return 1;
    case T_NEQ: *c = LQL_NE; return 1;
    case T_GT: *c = LQL_GT; return 1;
    case T_GE: *c = LQL_GE; return 1;
    case T_LT: *c = LQL_LT; return 1;
    case T_LE: *c = LQL_LE; return 1;
    default: return 0;
    }
}

static int parse_lf_atom(struct lql_parser *p, struct lql_lf **out)
{
    struct lql_lf *f = scry_arena_calloc(p->a, 1, sizeof *f);
    *out = f;
    if (++p->depth > LQL_MAX_DEPTH)
        return lql__fail(p, p->tok.pos, "syntax error: query is nested too deeply");
    if (p->tok.t == T_LPAREN) {
        lql__advance(p);
        int rc = parse_lf_or(p, out);
        if (!rc)
            rc = lql__expect(p, T_RPAREN, ")");
        if (!rc)
            (*out)->paren = true;
        p->depth--;
        return rc;
    }
    p->depth--;
    if (p->tok.t != T_IDENT)
        return lql__unexpected(p, NULL);
    f->name = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
    lql__advance(p);
    enum scry_match_type mt;
    enum lql_cmp c = LQL_EQ;
    if (p->tok.t == T_RE || p->tok.t == T_NRE) {
        mt = p->tok.t == T_RE ? SCRY_MATCH_RE : SCRY_MATCH_NRE;
    } else if (!cmp_at(p, &c)) {
        return lql__unexpected(p, NULL);
    } else {
        mt = c == LQL_NE ? SCRY_MATCH_NEQ : SCRY_MATCH_EQ;
    }
    bool eq_like = p->tok.t == T_EQ || p->tok.t == T_NEQ || p->tok.t == T_RE ||
                   p->tok.t == T_NRE || p->tok.t == T_EQEQ;
    lql__advance(p);
    f->cmp = c;
    if (p->tok.t == T_STRING && eq_like) {
        size_t pos = p->tok.pos, len;
        const char *v;
        if (lql__string(p, &v, &len))
            return SCRY_EPARSE;
        f->kind = LQL_LF_STR;
        f->text = v;
        struct scry_err e = { 0 };
        if (scry_matcher_init(&f->m, mt, f->name, v, &e)) {
            f->kind = LQL_LF_NUM; /* nothing to release */
            return lql__fail(p, pos, "%s", e.msg);
        }
        return 0;
    }
    if (lql__tok_is(p, "ip") && (c == LQL_EQ || c == LQL_NE) &&
        mt != SCRY_MATCH_RE && mt != SCRY_MATCH_NRE) {
        f->kind = LQL_LF_IP;
        return parse_fval(p, LQL_CONTAINS, &f->ip);
    }
    if (mt == SCRY_MATCH_RE || mt == SCRY_MATCH_NRE)
        return lql__unexpected(p, "STRING");
    bool neg = false;
    if (p->tok.t == T_SUB) {
        neg = true;
        lql__advance(p);
    }
    const char *s = p->q + p->tok.pos;
    size_t n = p->tok.len;
    bool range_err;
    if (p->tok.t == T_NUMBER && pql__parse_number(s, n, &f->num, &range_err)) {
        f->kind = LQL_LF_NUM;
    } else if (p->tok.t == T_DURATION && lql__parse_go_duration(s, n, &f->num)) {
        f->kind = LQL_LF_DUR;
    } else if (p->tok.t == T_BYTES && lql__parse_bytes(s, n, &f->num)) {
        f->kind = LQL_LF_BYTES;
    } else {
        return lql__unexpected(p, NULL);
    }
    if (neg)
        f->num = -f->num;
    f->text = scry_arena_printf(p->a, "%s%.*s", neg ? "-" : "", (int)n, s);
    lql__advance(p);
    return 0;
}

static int parse_lf_and(struct lql_parser *p, struct lql_lf **out)
{
    int rc = parse_lf_atom(p, out);
    while (!rc && (lql__tok_is(p, "and") || p->tok.t == T_COMMA ||
                   (p->tok.t == T_IDENT && !lql__tok_is(p, "or") && !lql__tok_is(p, "offset") &&
                    !lql__tok_is(p, "by") && !lql__tok_is(p, "without")))) {
        if (p->tok.t != T_IDENT || lql__tok_is(p, "and"))
            lql__advance(p);
        struct lql_lf *f = scry_arena_calloc(p->a, 1, sizeof *f);
        f->kind = LQL_LF_AND;
        f->l = *out;
        *out = f;
        rc = parse_lf_atom(p, &f->r);
    }
    return rc;
}

static int parse_lf_or(struct lql_parser *p, struct lql_lf **out)
{
    int rc = parse_lf_and(p, out);
    while (!rc && lql__tok_is(p, "or")) {
        lql__advance(p);
        struct lql_lf *f = scry_arena_calloc(p->a, 1, sizeof *f);
        f->kind = LQL_LF_OR;
        f->l = *out;
        *out = f;
        rc = parse_lf_and(p, &f->r);
    }
    return rc;
}

/* ---- stages ---- */

static bool followed_by_filter_op(struct lql_parser *p)
{
    return peek_is(p, T_EQ) || peek_is(p, T_NEQ) || peek_is(p, T_RE) || peek_is(p, T_NRE) ||
           peek_is(p, T_EQEQ) || peek_is(p, T_GT) || peek_is(p, T_GE) || peek_is(p, T_LT) ||
           peek_is(p, T_LE);
}

static int parse_stage(struct lql_parser *p, struct lql_log *log, size_t *cap, bool allow_unwrap)
{
    size_t pos = p->tok.pos;
    if (p->tok.t == T_IDENT && !followed_by_filter_op(p)) {
        struct lql_stage *st;
        char why[160];
        if (lql__tok_is(p, "json") || lql__tok_is(p, "logfmt")) {
            st = add_stage(p, log, lql__tok_is(p, "json") ? LQL_ST_JSON : LQL_ST_LOGFMT, cap);
            lql__advance(p);
            while (st->kind == LQL_ST_LOGFMT && p->tok.t == T_FLAG) {
                const char *f = p->q + p->tok.pos;
                if (p->tok.len == 8 && !memcmp(f, "--strict", 8))
                    st->u.kv.strict = true;
                else if (p->tok.len == 12 && !memcmp(f, "--keep-empty", 12))
                    st->u.kv.keep_empty = true;
                else
                    return lql__fail(p, p->tok.pos, "syntax error: invalid logfmt flag %.*s",
                                     (int)p->tok.len, f);
                lql__advance(p);
            }
            return parse_kvs(p, st, KV_EXTRACT);
        }
        if (lql__tok_is(p, "unpack")) {
            add_stage(p, log, LQL_ST_UNPACK, cap);
            lql__advance(p);
            return 0;
        }
        if (lql__tok_is(p, "decolorize")) {
            add_stage(p, log, LQL_ST_DECOLORIZE, cap);
            lql__advance(p);
            return 0;
        }
        if (lql__tok_is(p, "regexp") || lql__tok_is(p, "pattern") ||
            lql__tok_is(p, "line_format")) {
            enum lql_stage_kind k = lql__tok_is(p, "regexp")    ? LQL_ST_REGEXP
                                  : lql__tok_is(p, "pattern")   ? LQL_ST_PATTERN
                                                                : LQL_ST_LINE_FORMAT;
            st = add_stage(p, log, k, cap);
            lql__advance(p);
            size_t spos = p->tok.pos;
            if (lql__string(p, &st->u.text.src, &st->u.text.len))
                return SCRY_EPARSE;
            if (k == LQL_ST_LINE_FORMAT) {
                if (lql__tmpl_compile(p->a, st->u.text.src, st->u.text.len, &st->u.text.tmpl,
                                      why, sizeof why))
                    return lql__fail(p, spos, "invalid line template: %s", why);
            } else if (k == LQL_ST_PATTERN) {
                if (lql__pattern_compile(p->a, st->u.text.src, st->u.text.len,
                                         &st->u.text.parts, &st->u.text.n_parts, why,
                                         sizeof why))
                    return lql__fail(p, spos, "%s", why);
            } else {
                size_t off;
                st->u.text.re = lql__re_compile(st->u.text.src, st->u.text.len,
                                                &st->u.text.md, why, sizeof why, &off);
                if (!st->u.text.re)
                    return lql__fail(p, spos, "invalid regexp: %s", why);
                uint32_t cnt = 0, esz = 0;
                pcre2_pattern_info(st->u.text.re, PCRE2_INFO_CAPTURECOUNT, &st->u.text.n_groups);
                pcre2_pattern_info(st->u.text.re, PCRE2_INFO_NAMECOUNT, &cnt);
                pcre2_pattern_info(st->u.text.re, PCRE2_INFO_NAMEENTRYSIZE, &esz);
                PCRE2_SPTR tab;
                pcre2_pattern_info(st->u.text.re, PCRE2_INFO_NAMETABLE, &tab);
                st->u.text.names = scry_arena_calloc(p->a, st->u.text.n_groups + 1,
                                                     sizeof(char *));
                for (uint32_t i = 0; i < cnt; i++) {
                    const unsigned char *ent = tab + i * esz;
                    uint32_t g = (uint32_t)(ent[0] << 8 | ent[1]);
                    st->u.text.names[g] = scry_arena_strdup(p->a, (const char *)ent + 2);
                }
                if (cnt == 0)
                    return lql__fail(p, spos, "at least one named capture must be supplied");
            }
            return 0;
        }
        if (lql__tok_is(p, "label_format")) {
            st = add_stage(p, log, LQL_ST_LABEL_FORMAT, cap);
            lql__advance(p);
            return parse_kvs(p, st, KV_FORMAT);
        }
        if (lql__tok_is(p, "drop") || lql__tok_is(p, "keep")) {
            st = add_stage(p, log, lql__tok_is(p, "drop") ? LQL_ST_DROP : LQL_ST_KEEP, cap);
            lql__advance(p);
            return parse_kvs(p, st, KV_NAMES);
        }
        if (lql__tok_is(p, "unwrap")) {
            if (!allow_unwrap)
                return lql__fail(p, pos, "syntax error: unexpected unwrap outside of a range "
                                 "aggregation");
            st = add_stage(p, log, LQL_ST_UNWRAP, cap);
            lql__advance(p);
            if (p->tok.t == T_IDENT && peek_is(p, T_LPAREN)) {
                if (lql__tok_is(p, "duration"))
                    st->u.unwrap.conv = LQL_CONV_DURATION;
                else if (lql__tok_is(p, "duration_seconds"))
                    st->u.unwrap.conv = LQL_CONV_DURATION_SECONDS;
                else if (lql__tok_is(p, "bytes"))
                    st->u.unwrap.conv = LQL_CONV_BYTES;
                else
                    return lql__unexpected(p, NULL);
                lql__advance(p);
                lql__advance(p);
                if (p->tok.t != T_IDENT)
                    return lql__unexpected(p, "IDENTIFIER");
                st->u.unwrap.label = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
                lql__advance(p);
                return lql__expect(p, T_RPAREN, ")");
            }
            if (p->tok.t != T_IDENT)
                return lql__unexpected(p, "IDENTIFIER");
            st->u.unwrap.label = scry_arena_strndup(p->a, p->q + p->tok.pos, p->tok.len);
            lql__advance(p);
            return 0;
        }
    }
    struct lql_stage *st = add_stage(p, log, LQL_ST_LABEL_FILTER, cap);
    return parse_lf_or(p, &st->u.lf);
}

int lql__parse_stages(struct lql_parser *p, struct lql_log *log, bool allow_unwrap)
{
    size_t cap = log->n_stages; /* add_stage grows from the current count */
    for (;;) {
        switch (p->tok.t) {
        case T_PIPE_EQ:
        case T_PIPE_RE:
        case T_NEQ:
        case T_NRE:
        case T_PIPE_PAT:
        case T_NPAT:
            if (parse_line_filter(p, log, &cap))
                return SCRY_EPARSE;
            break;
        case T_PIPE:
            lql__advance(p);
            if (parse_stage(p, log, &cap, allow_unwrap))
                return SCRY_EPARSE;
            break;
        default:
            return 0;
        }
    }
}

int lql__parse_log(struct lql_parser *p, struct lql_log *out, bool allow_unwrap)
{
    memset(out, 0, sizeof *out);
    if (parse_selector(p, out))
        return SCRY_EPARSE;
    if (lql__parse_stages(p, out, allow_unwrap))
        return SCRY_EPARSE;
    /* A grouping, filter, template or keep anywhere in the query may read
     * it, so the text decides; a needle that happens to spell it only
     * costs the derivation. */
    out->detect_level = memmem(p->q, p->len, "detected_level", 14) != NULL;
    return lql__check_unwrap(p, out);
}

int lql__check_unwrap(struct lql_parser *p, const struct lql_log *out)
{
    /* unwrap must be the last stage but label filters */
    bool seen = false;
    for (size_t i = 0; i < out->n_stages; i++) {
        enum lql_stage_kind k = out->stages[i].kind;
        if (seen && k != LQL_ST_LABEL_FILTER)
            return lql__fail(p, p->tok.pos, "syntax error: only label filters may follow "
                             "unwrap");
        if (k == LQL_ST_UNWRAP) {
            if (seen)
                return lql__fail(p, p->tok.pos, "syntax error: unexpected unwrap");
            seen = true;
        }
    }
    return 0;
}

static void lf_fini(struct lql_lf *f)
{
    if (!f)
        return;
    switch (f->kind) {
    case LQL_LF_AND:
    case LQL_LF_OR:
        lf_fini(f->l);
        lf_fini(f->r);
        break;
    case LQL_LF_STR: scry_matcher_fini(&f->m); break;
    default: break;
    }
}

void lql__log_fini(struct lql_log *log)
{
    for (size_t i = 0; i < log->n_matchers; i++)
        scry_matcher_fini(&log->matchers[i]);
    log->n_matchers = 0;
    for (size_t i = 0; i < log->n_stages; i++) {
        struct lql_stage *st = &log->stages[i];
        switch (st->kind) {
        case LQL_ST_FILTER:
            for (size_t j = 0; j < st->u.filter.n_vals; j++)
                lql__re_free(st->u.filter.vals[j].re, st->u.filter.vals[j].md);
            break;
        case LQL_ST_LABEL_FILTER: lf_fini(st->u.lf); break;
        case LQL_ST_REGEXP: lql__re_free(st->u.text.re, st->u.text.md); break;
        case LQL_ST_LINE_FORMAT: lql__tmpl_fini(st->u.text.tmpl); break;
        case LQL_ST_LABEL_FORMAT:
        case LQL_ST_DROP:
        case LQL_ST_KEEP:
            for (size_t j = 0; j < st->u.kv.n_kv; j++) {
                if (st->u.kv.kv[j].m)
                    scry_matcher_fini(st->u.kv.kv[j].m);
                if (st->u.kv.kv[j].tmpl)
                    lql__tmpl_fini(st->u.kv.kv[j].tmpl);
            }
            break;
        default: break;
        }
    }
    log->n_stages = 0;
}
