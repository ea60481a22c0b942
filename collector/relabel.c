/* relabel.c — Prometheus relabelling (model/relabel/relabel.go), rule by
 * rule, on a scry_labels_builder.
 *
 * Where the time goes. metric_relabel_configs run once per scraped sample:
 * at 5 M samples/s a rule may cost ~50 ns before it dominates the scrape.
 * Two things keep it there. The joined source value is not copied when
 * there is one source label (the common `source_labels: [__name__]`).
 * And most regexes in real configs are either the default "(.*)" or a
 * literal or an alternation of literals ("go_gc_duration_seconds|
 * go_memstats_.*" is not, "node_cpu_seconds_total" is); those are decided
 * with memcmp instead of pcre2_match, which costs ~150 ns even for a
 * literal because of its per-call set-up. ctx_init classifies each rule
 * once. Other regexes go to PCRE2 with match data made once per context.
 *
 * Semantics follow relabel.go exactly, including its edges: an empty
 * expansion result deletes the target label; an invalid expanded target
 * name skips the rule; a source label that is absent reads as ""; hashmod
 * is md5(value) with bytes 8..15 read big-endian, mod modulus. Differences:
 * lowercase/uppercase change ASCII letters only (Go's strings.ToLower is
 * Unicode), and labelmap skips a result that is not a valid label name
 * (Prometheus sets it and the series then fails validation). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "collector/relabel.h"

#include <assert.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/md5.h"
#include "core/mem.h"

enum match_kind {
    MATCH_PCRE,    /* pcre2_match */
    MATCH_ALL,     /* "(.*)": group 1 is the whole subject */
    MATCH_LITERAL, /* a|b|c of plain literals, no groups */
};

struct col__relabel_rule {
    enum match_kind kind;
    const char *lit;         /* MATCH_LITERAL: the regex source */
    size_t lit_len;
    pcre2_code *code;        /* MATCH_PCRE: our JIT-compiled copy of cfg->re */
};

/* ------------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------------ */

/* True when regex is one or more '|'-separated literals: no metacharacter
 * can change what matches, so string comparison decides. */
static bool is_literal(const char *re)
{
    for (const char *s = re; *s; s++)
        if (strchr("\\^$.[]()?*+{}", *s) || (unsigned char)*s >= 0x80)
            return false;
    return true;
}

void col_relabel_ctx_init(struct col_relabel_ctx *ctx, const struct scry_relabel_config *cfgs,
                          size_t n)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->cfgs = cfgs;
    ctx->n_cfgs = n;
    ctx->rules = n ? scry_calloc(n, sizeof *ctx->rules) : NULL;
    uint32_t max_groups = 0;
    for (size_t i = 0; i < n; i++) {
        struct col__relabel_rule *r = &ctx->rules[i];
        const char *re = cfgs[i].regex ? cfgs[i].regex : "(.*)";
        if (strcmp(re, "(.*)") == 0) {
            r->kind = MATCH_ALL;
        } else if (is_literal(re)) {
            r->kind = MATCH_LITERAL;
            r->lit = re;
            r->lit_len = strlen(re);
        } else {
            r->kind = MATCH_PCRE;
            assert(cfgs[i].re);
            /* JIT cuts a match like "(.*);(.*):9100" from ~5400 to ~500
             * instructions. We compile a private copy: the config's code
             * is shared by every scrape loop, and JIT-compiling it while
             * another thread matches is not safe. No JIT (some arches, or
             * SELinux execmem) just means the interpreter. */
            r->code = pcre2_code_copy(cfgs[i].re);
            if (!r->code)
                scry_panic("out of memory", __FILE__, __LINE__);
            (void)pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
            uint32_t g = 0;
            pcre2_pattern_info(cfgs[i].re, PCRE2_INFO_CAPTURECOUNT, &g);
            if (g > max_groups)
                max_groups = g;
        }
    }
    ctx->md = pcre2_match_data_create(max_groups + 1, NULL);
    if (!ctx->md)
        scry_panic("out of memory", __FILE__, __LINE__);
}

void col_relabel_ctx_fini(struct col_relabel_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_cfgs && ctx->rules; i++)
        pcre2_code_free(ctx->rules[i].code);
    free(ctx->rules);
    pcre2_match_data_free(ctx->md);
    scry_buf_fini(&ctx->val);
    scry_buf_fini(&ctx->target);
    scry_buf_fini(&ctx->res);
    free(ctx->snap);
    memset(ctx, 0, sizeof *ctx);
}

/* ------------------------------------------------------------------------
 * Matching and expansion
 * ------------------------------------------------------------------------ */

struct match {
    const size_t *ov; /* pairs of offsets; PCRE2_UNSET when a group is unset */
    int n;            /* pairs valid in ov */
    size_t all[4];    /* storage for the fast paths */
};

static bool literal_match(const struct col__relabel_rule *r, const char *s, size_t len)
{
    const char *p = r->lit, *end = r->lit + r->lit_len;
    for (;;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        const char *alt_end = bar ? bar : end;
        if ((size_t)(alt_end - p) == len && memcmp(p, s, len) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static bool do_match(struct col_relabel_ctx *ctx, size_t i, const char *s, size_t len,
                     struct match *m)
{
    const struct col__relabel_rule *r = &ctx->rules[i];
    switch (r->kind) {
    case MATCH_ALL:
        m->all[0] = m->all[2] = 0;
        m->all[1] = m->all[3] = len;
        m->ov = m->all;
        m->n = 2;
        return true;
    case MATCH_LITERAL:
        m->all[0] = 0;
        m->all[1] = len;
        m->ov = m->all;
        m->n = 1;
        return literal_match(r, s, len);
    case MATCH_PCRE:
        break;
    }
    /* Errors (invalid UTF-8 in a value, match limits) count as no match. */
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, 0, 0, ctx->md, NULL);
    if (rc <= 0)
        return false;
    m->ov = pcre2_get_ovector_pointer(ctx->md);
    m->n = rc;
    return true;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

void col__relabel_expand(struct scry_buf *out, const char *tmpl, const char *subject,
                         const size_t *ov, int n_groups, const void *re)
{
    const char *t = tmpl;
    for (;;) {
        const char *dollar = strchr(t, '$');
        if (!dollar) {
            scry_buf_puts(out, t);
            return;
        }
        scry_buf_put(out, t, (size_t)(dollar - t));
        t = dollar + 1;
        if (*t == '$') {
            scry_buf_putc(out, '$');
            t++;
            continue;
        }
        /* Go's regexp extract(): a name is [A-Za-z0-9_]+, optionally in
         * braces; $1x is ${1x}, not ${1}x. */
        bool brace = *t == '{';
        const char *name = t + brace, *e = name;
        while (name_char(*e))
            e++;
        if (e == name || (brace && *e != '}')) {
            scry_buf_putc(out, '$'); /* malformed: keep the '$' as text */
            continue;
        }
        size_t nlen = (size_t)(e - name);
        t = e + brace;
        long num = 0;
        for (size_t k = 0; k < nlen && num >= 0; k++)
            num = name[k] >= '0' && name[k] <= '9' && num < 100000000 ? num * 10 + (name[k] - '0') : -1;
        if (name[0] == '0' && nlen > 1)
            num = -1;
        if (num < 0 && re && nlen < 64) {
            char z[64];
            memcpy(z, name, nlen);
            z[nlen] = 0;
            int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)z);
            num = g > 0 ? g : -1;
        }
        if (num >= 0 && num < n_groups && ov[2 * num] != PCRE2_UNSET)
            scry_buf_put(out, subject + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
    }
}

/* ------------------------------------------------------------------------
 * The rules
 * ------------------------------------------------------------------------ */

/* The builder is sorted (labels.c), so a lookup is a binary search. */
static const char *get(const struct scry_labels_builder *b, const char *name)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(b->v[mid].name, name);
        if (c == 0)
            return b->v[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return "";
}

/* The source values joined by the separator. One source label is the
 * common case and is returned in place, without a copy. */
static const char *joined(struct col_relabel_ctx *ctx, const struct scry_relabel_config *c,
                          struct scry_labels_builder *b, size_t *len)
{
    if (c->n_source_labels == 1) {
        const char *v = get(b, c->source_labels[0]);
        *len = strlen(v);
        return v;
    }
    scry_buf_reset(&ctx->val);
    scry_buf_putc(&ctx->val, 0); /* ensure .p is allocated for zero sources */
    scry_buf_reset(&ctx->val);
    const char *sep = c->separator ? c->separator : ";";
    for (size_t i = 0; i < c->n_source_labels; i++) {
        if (i)
            scry_buf_puts(&ctx->val, sep);
        scry_buf_puts(&ctx->val, get(b, c->source_labels[i]));
    }
    *len = ctx->val.len;
    return ctx->val.p;
}

static void set_case(struct scry_labels_builder *b, struct scry_buf *tmp, const char *target,
                     const char *v, size_t len, bool upper)
{
    scry_buf_reset(tmp);
    scry_buf_put(tmp, v, len);
    for (size_t i = 0; i < len; i++) {
        char ch = tmp->p[i];
        if (upper && ch >= 'a' && ch <= 'z')
            tmp->p[i] = (char)(ch - 'a' + 'A');
        else if (!upper && ch >= 'A' && ch <= 'Z')
            tmp->p[i] = (char)(ch - 'A' + 'a');
    }
    scry_labels_builder_set(b, target, tmp->p);
}

static void rule_replace(struct col_relabel_ctx *ctx, size_t i, struct scry_labels_builder *b,
                         const char *v, size_t len)
{
    const struct scry_relabel_config *c = &ctx->cfgs[i];
    struct match m;
    if (!do_match(ctx, i, v, len, &m))
        return;
    const char *repl = c->replacement ? c->replacement : "$1";
    scry_buf_reset(&ctx->target);
    scry_buf_putc(&ctx->target, 0);
    scry_buf_reset(&ctx->target);
    col__relabel_expand(&ctx->target, c->target_label ? c->target_label : "", v, m.ov, m.n, c->re);
    if (!scry_label_name_valid(ctx->target.p, ctx->target.len))
        return;
    scry_buf_reset(&ctx->res);
    scry_buf_putc(&ctx->res, 0);
    scry_buf_reset(&ctx->res);
    col__relabel_expand(&ctx->res, repl, v, m.ov, m.n, c->re);
    if (ctx->res.len == 0)
        scry_labels_builder_del(b, ctx->target.p);
    else
        scry_labels_builder_set(b, ctx->target.p, ctx->res.p);
}

static void rule_hashmod(struct col_relabel_ctx *ctx, const struct scry_relabel_config *c,
                         struct scry_labels_builder *b, const char *v, size_t len)
{
    uint8_t sum[16];
    col_md5(v, len, sum);
    uint64_t h = 0;
    for (int k = 8; k < 16; k++)
        h = h << 8 | sum[k];
    assert(c->modulus > 0); /* the config loader refuses 0 */
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, c->modulus ? h % c->modulus : 0);
    scry_labels_builder_set(b, c->target_label, num);
}

/* labelmap: Prometheus iterates over a snapshot, so labels it adds are not
 * themselves mapped again. */
static void rule_labelmap(struct col_relabel_ctx *ctx, size_t i, struct scry_labels_builder *b)
{
    const struct scry_relabel_config *c = &ctx->cfgs[i];
    if (b->n > ctx->snap_cap) {
        ctx->snap_cap = b->n * 2;
        ctx->snap = scry_realloc(ctx->snap, ctx->snap_cap * sizeof *ctx->snap);
    }
    size_t n = b->n;
    if (n)
        memcpy(ctx->snap, b->v, n * sizeof *ctx->snap);
    const char *repl = c->replacement ? c->replacement : "$1";
    for (size_t k = 0; k < n; k++) {
        const char *name = ctx->snap[k].name;
        struct match m;
        if (!do_match(ctx, i, name, strlen(name), &m))
            continue;
        scry_buf_reset(&ctx->res);
        scry_buf_putc(&ctx->res, 0);
        scry_buf_reset(&ctx->res);
        col__relabel_expand(&ctx->res, repl, name, m.ov, m.n, c->re);
        if (scry_label_name_valid(ctx->res.p, ctx->res.len))
            scry_labels_builder_set(b, ctx->res.p, ctx->snap[k].value);
    }
}

/* labeldrop / labelkeep filter the sorted array in place. */
static void rule_labelfilter(struct col_relabel_ctx *ctx, size_t i, struct scry_labels_builder *b,
                             bool keep_matching)
{
    size_t j = 0;
    for (size_t k = 0; k < b->n; k++) {
        struct match m;
        bool hit = do_match(ctx, i, b->v[k].name, strlen(b->v[k].name), &m);
        if (hit == keep_matching)
            b->v[j++] = b->v[k];
    }
    b->n = j;
}

static bool rule(struct col_relabel_ctx *ctx, size_t i, struct scry_labels_builder *b)
{
    const struct scry_relabel_config *c = &ctx->cfgs[i];
    size_t len = 0;
    const char *v = "";
    struct match m;
    switch (c->action) {
    case SCRY_RELABEL_LABELMAP:
        rule_labelmap(ctx, i, b);
        return true;
    case SCRY_RELABEL_LABELDROP:
        rule_labelfilter(ctx, i, b, false);
        return true;
    case SCRY_RELABEL_LABELKEEP:
        rule_labelfilter(ctx, i, b, true);
        return true;
    default:
        v = joined(ctx, c, b, &len);
    }
    switch (c->action) {
    case SCRY_RELABEL_DROP:
        return !do_match(ctx, i, v, len, &m);
    case SCRY_RELABEL_KEEP:
        return do_match(ctx, i, v, len, &m);
    case SCRY_RELABEL_DROPEQUAL:
        return strcmp(get(b, c->target_label), v) != 0 || strlen(v) != len;
    case SCRY_RELABEL_KEEPEQUAL: {
        const char *t = get(b, c->target_label);
        return strlen(t) == len && memcmp(t, v, len) == 0;
    }
    case SCRY_RELABEL_REPLACE:
        rule_replace(ctx, i, b, v, len);
        return true;
    case SCRY_RELABEL_LOWERCASE:
    case SCRY_RELABEL_UPPERCASE:
        set_case(b, &ctx->res, c->target_label, v, len, c->action == SCRY_RELABEL_UPPERCASE);
        return true;
    case SCRY_RELABEL_HASHMOD:
        rule_hashmod(ctx, c, b, v, len);
        return true;
    default:
        assert(!"unknown relabel action");
        return true;
    }
}

int col_relabel_apply(struct col_relabel_ctx *ctx, struct scry_labels_builder *b, bool *keep)
{
    for (size_t i = 0; i < ctx->n_cfgs; i++) {
        if (!rule(ctx, i, b)) {
            *keep = false;
            return 0;
        }
    }
    *keep = true;
    return 0;
}

int col_relabel(const struct scry_relabel_config *cfgs, size_t n, struct scry_labels_builder *b,
                bool *keep)
{
    struct col_relabel_ctx ctx;
    col_relabel_ctx_init(&ctx, cfgs, n);
    int rc = col_relabel_apply(&ctx, b, keep);
    col_relabel_ctx_fini(&ctx);
    return rc;
}
