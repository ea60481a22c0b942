/* config.c — loading a config: YAML tree → typed structs, through tables.
 *
 * Design. Parsing and decoding are separate passes. yaml.c turns the text
 * into a node tree that remembers line:col; this file walks that tree
 * against the section tables of config_sections.c and config_scrape.c. One
 * generic decoder handles every key type (string, bool, int, duration,
 * bytes, enum, lists, label maps, nested objects, regexes), so each section
 * is only a table plus an optional finish hook for rules that span keys
 * (scrape_timeout <= scrape_interval, relabel action rules, ...).
 *
 * Order. Defaults are applied first, from the same tables, by decoding the
 * default text exactly like user input: a default cannot drift from what the
 * parser accepts. Then a section's keys are checked for unknown names in
 * file order, and decoded in TABLE order, so `global` is decoded before
 * `scrape_configs` (whose defaults come from it) wherever it sits in the
 * file. A null value (`key:` or `key: ~`) means "use the default".
 *
 * Errors. The first error stops the load. Each one names the key path and
 * the node: "scrape_configs[0].scrape_interval: cannot parse "5x" as a
 * duration" at the value's line:col. err->file points at the caller's name.
 *
 * Memory. One arena owns the tree and the structs; strings point into the
 * tree, defaults into static text. Compiled PCRE2 codes are the only heap
 * objects outside it and are chained in cfg_impl so destroy frees them. */
#include "core/config.h"
#include "core/config_internal.h"
#include "core/mem.h"
#include "core/timeparse.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_LEN 256
#define CONFIG_MAX_BYTES (16 << 20) /* a config larger than this is a mistake */

/* ---- helpers shared with the section files ----------------------------- */

int scry__cfg_fail(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                   const char *fmt, ...)
{
    char what[SCRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path && *path)
        scry_err_set(c->err, SCRY_EINVAL, "%s: %s", path, what);
    else
        scry_err_set(c->err, SCRY_EINVAL, "%s", what);
    scry_err_pos(c->err, c->file, n ? n->line : 0, n ? n->col : 0);
    return SCRY_EINVAL;
}

const char *scry__cfg_path(char *buf, size_t cap, const char *path, const char *key)
{
    /* A path longer than the buffer is cut; it only ever appears in a
     * message, and the position still points at the node. */
    int n = snprintf(buf, cap, "%s%s%s", path, *path ? "." : "", key);
    assert(n >= 0);
    (void)n;
    return buf;
}

const char *scry__cfg_index(char *buf, size_t cap, const char *path, size_t i)
{
    int n = snprintf(buf, cap, "%s[%zu]", path, i);
    assert(n >= 0);
    (void)n;
    return buf;
}

bool scry__cfg_label_name_ok(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

const struct scry_yaml_node *scry__cfg_at(const struct scry_yaml_node *map, const char *key,
                                          const struct scry_yaml_node *fallback)
{
    const struct scry_yaml_node *n = scry__yaml_get(map, key);
    return n ? n : fallback;
}

int scry__cfg_check_label_name(struct cfg_ctx *c, const struct scry_yaml_node *n,
                               const char *path, const char *v)
{
    if (!scry__cfg_label_name_ok(v))
        return scry__cfg_fail(c, n, path, "\"%s\" is not a valid label name", v);
    return 0;
}

/* HOST:PORT with a numeric port 0..65535; host may be empty (all
 * interfaces) or a bracketed IPv6 literal. */
int scry__cfg_check_hostport(struct cfg_ctx *c, const struct scry_yaml_node *n,
                             const char *path, const char *v)
{
    const char *colon = strrchr(v, ':');
    const char *host_end = colon;
    bool ok = colon && colon[1];
    if (ok && v[0] == '[')
        ok = colon > v && colon[-1] == ']' && memchr(v, ']', (size_t)(colon - v)) == colon - 1;
    else if (ok)
        ok = memchr(v, ':', (size_t)(host_end - v)) == NULL; /* bare IPv6 needs brackets */
    long port = 0;
    for (const char *p = ok ? colon + 1 : ""; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9' && p - colon <= 5;
        port = port * 10 + (*p - '0');
    }
    if (!ok || port > 65535)
        return scry__cfg_fail(c, n, path, "\"%s\" is not a valid HOST:PORT address", v);
    return 0;
}

int scry__cfg_regex(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                    const char *re, void **out)
{
    /* Anchored like Prometheus (relabel.NewRegexp). DOTALL: Prometheus uses
     * (?s:...) so "." matches newlines in label values. DOLLAR_ENDONLY: PCRE's
     * "$" would otherwise also match before a final newline. */
    static const char pre[] = "^(?:";
    char *full = scry_arena_printf(c->a, "%s%s)$", pre, re);
    int code;
    PCRE2_SIZE off;
    pcre2_code *p = pcre2_compile((PCRE2_SPTR)full, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &code, &off,
                                  NULL);
    if (!p) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        size_t at = off >= sizeof pre - 1 ? off - (sizeof pre - 1) : 0;
        if (at > strlen(re))
            at = strlen(re);
        return scry__cfg_fail(c, n, path, "invalid regex \"%s\": %s at offset %zu", re,
                              (const char *)msg, at);
    }
    struct cfg_regex *r = scry_arena_alloc(c->a, sizeof *r);
    r->code = p;
    r->next = *c->regexes;
    *c->regexes = r;
    *out = p;
    return 0;
}

/* ---- scalars ----------------------------------------------------------- */

static int want_kind(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                     enum scry_yaml_kind kind)
{
    static const char *const names[] = { "a scalar", "a sequence", "a mapping" };
    if (n->kind == kind)
        return 0;
    return scry__cfg_fail(c, n, path, "expected %s, got %s", names[kind],
                          scry__yaml_kind_name(n));
}

static int want_string(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path)
{
    int rc = want_kind(c, n, path, SCRY_YAML_SCALAR);
    if (rc == 0 && strlen(n->s) != n->len)
        return scry__cfg_fail(c, n, path, "string contains a NUL byte");
    return rc;
}

static int parse_bool(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                      bool *out)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on", NULL };
    static const char *const no[] = { "false", "False", "FALSE", "no", "No", "off", NULL };
    for (int i = 0; yes[i]; i++) {
        if (strcmp(n->s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(n->s, no[i]) == 0)
            return *out = false, 0;
    }
    return scry__cfg_fail(c, n, path, "cannot parse \"%s\" as a bool", n->s);
}

/* Decimal only, whole string, optional sign; u64 for CFG_UINT. */
static int parse_int(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                     const struct cfg_opt *o, void *dst)
{
    const char *s = n->s;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    uint64_t v = 0;
    bool ok = *s != 0;
    for (; ok && *s; s++) {
        ok = *s >= '0' && *s <= '9';
        ok = ok && !__builtin_mul_overflow(v, 10, &v) && !__builtin_add_overflow(v, *s - '0', &v);
    }
    if (!ok)
        return scry__cfg_fail(c, n, path, "cannot parse \"%s\" as an integer", n->s);
    if (neg && v > 0 && o->min >= 0)
        return scry__cfg_fail(c, n, path, "must be >= %" PRId64 ", got %s", o->min, n->s);
    if (o->type == CFG_UINT) {
        if ((o->min > 0 && v < (uint64_t)o->min) || (o->max > 0 && v > (uint64_t)o->max))
            goto range;
        *(uint64_t *)dst = v;
        return 0;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return scry__cfg_fail(c, n, path, "%s is out of range", n->s);
    int64_t iv = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (iv < o->min || (o->max > 0 && iv > o->max))
        goto range;
    *(int64_t *)dst = iv;
    return 0;
range:
    if (o->max > 0)
        return scry__cfg_fail(c, n, path, "must be between %" PRId64 " and %" PRId64 ", got %s",
                              o->min, o->max, n->s);
    return scry__cfg_fail(c, n, path, "must be >= %" PRId64 ", got %s", o->min, n->s);
}

/* Durations and byte sizes share their limit messages, in their own units. */
static int check_quantity(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                          const struct cfg_opt *o, int64_t v)
{
    if (v >= o->min && (o->max == 0 || v <= o->max))
        return 0;
    struct scry_buf b = { 0 };
    bool low = v < o->min;
    int64_t lim = low ? o->min : o->max;
    if (o->type == CFG_DURATION)
        scry_duration_format(lim, &b);
    else
        scry_buf_printf(&b, "%" PRId64 " bytes", lim);
    if (low && lim == 1)
        scry__cfg_fail(c, n, path, "must be greater than 0");
    else
        scry__cfg_fail(c, n, path, "must be at %s %s, got %s", low ? "least" : "most", b.p, n->s);
    scry_buf_fini(&b);
    return SCRY_EINVAL;
}

static int decode_enum(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                       const struct cfg_opt *o, int *out)
{
    for (int i = 0; o->names[i]; i++) {
        bool eq = o->flags & CFG_ICASE ? strcasecmp(n->s, o->names[i]) == 0
                                       : strcmp(n->s, o->names[i]) == 0;
        if (eq)
            return *out = i, 0;
    }
    struct scry_buf b = { 0 };
    for (int i = 0; o->names[i]; i++)
        scry_buf_printf(&b, "%s%s", i ? ", " : "", o->names[i]);
    scry__cfg_fail(c, n, path, "unknown value \"%s\" (expected one of: %s)", n->s, b.p);
    scry_buf_fini(&b);
    return SCRY_EINVAL;
}

static int decode_string(struct cfg_ctx *c, const struct scry_yaml_node *n, const char *path,
                         const struct cfg_opt *o, const char **out)
{
    int rc = want_string(c, n, path);
    if (rc == 0 && o->names) {
        int i;
        rc = decode_enum(c, n, path, o, &i);
    }
    if (rc == 0 && o->check)
        rc = o->check(c, n, path, n->s);
    if (rc == 0)
        *out = n->s;
    return rc;
}

static int decode_scalar(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                         const struct scry_yaml_node *n, const char *path)
{
    void *dst = base + o->off;
    int rc = want_string(c, n, path);
    if (rc)
        return rc;
    switch (o->type) {
    case CFG_STRING:
        return decode_string(c, n, path, o, dst);
    case CFG_BOOL:
        return parse_bool(c, n, path, dst);
    case CFG_INT:
    case CFG_UINT:
        return parse_int(c, n, path, o, dst);
    case CFG_DURATION:
    case CFG_BYTES: {
        int64_t v;
        struct scry_err e = { 0 };
        rc = o->type == CFG_DURATION ? scry_duration_parse(n->s, n->len, &v, &e)
                                     : scry_bytes_parse(n->s, n->len, &v, &e);
        if (rc)
            return scry__cfg_fail(c, n, path, "%s", e.msg);
        if ((rc = check_quantity(c, n, path, o, v)))
            return rc;
        *(int64_t *)dst = v;
        return 0;
    }
    case CFG_ENUM:
        return decode_enum(c, n, path, o, dst);
    case CFG_REGEX:
        *(const char **)dst = n->s;
        return scry__cfg_regex(c, n, path, n->s, (void **)(base + o->off_n));
    default:
        assert(!"not a scalar type");
        return SCRY_EINVAL;
    }
}

/* ---- collections ------------------------------------------------------- */

static int decode_section(struct cfg_ctx *c, const struct cfg_section *sec, char *base,
                          const struct scry_yaml_node *map, const struct scry_yaml_node *at,
                          const char *path);

static int cmp_label(const void *x, const void *y)
{
    return strcmp(((const struct scry_label *)x)->name, ((const struct scry_label *)y)->name);
}

static int decode_strings(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                          const struct scry_yaml_node *n, const char *path)
{
    char ipath[PATH_MAX_LEN];
    int rc = want_kind(c, n, path, SCRY_YAML_SEQ);
    const char **v = n->n ? scry_arena_calloc(c->a, n->n, sizeof *v) : NULL;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        struct cfg_opt item = { .type = CFG_STRING, .check = o->check };
        rc = decode_string(c, n->kids[i], scry__cfg_index(ipath, sizeof ipath, path, i), &item,
                           &v[i]);
    }
    if (rc == 0) {
        *(const char ***)(base + o->off) = v;
        *(size_t *)(base + o->off_n) = n->n;
    }
    return rc;
}

/* Label values that are empty mean "absent", as in Prometheus; they are
 * dropped so the set obeys labels.h's rules. */
static int decode_labels(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                         const struct scry_yaml_node *n, const char *path)
{
    char kpath[PATH_MAX_LEN];
    int rc = want_kind(c, n, path, SCRY_YAML_MAP);
    struct scry_label *v = n->n ? scry_arena_calloc(c->a, n->n, sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const struct scry_yaml_node *key = n->kids[2 * i], *val = n->kids[2 * i + 1];
        scry__cfg_path(kpath, sizeof kpath, path, key->s);
        if (strlen(key->s) != key->len || !scry__cfg_label_name_ok(key->s))
            return scry__cfg_fail(c, key, path, "\"%s\" is not a valid label name", key->s);
        if (scry__yaml_is_null(val))
            continue;
        if ((rc = want_string(c, val, kpath)))
            break;
        if (val->len)
            v[k++] = (struct scry_label){ key->s, val->s };
    }
    if (rc == 0) {
        if (k > 1)
            qsort(v, k, sizeof *v, cmp_label);
        *(struct scry_labels *)(base + o->off) = (struct scry_labels){ v, k };
    }
    return rc;
}

static int decode_params(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                         const struct scry_yaml_node *n, const char *path)
{
    char kpath[PATH_MAX_LEN], ipath[PATH_MAX_LEN];
    int rc = want_kind(c, n, path, SCRY_YAML_MAP);
    size_t total = 0;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const struct scry_yaml_node *val = n->kids[2 * i + 1];
        scry__cfg_path(kpath, sizeof kpath, path, n->kids[2 * i]->s);
        if (!scry__yaml_is_null(val) && (rc = want_kind(c, val, kpath, SCRY_YAML_SEQ)) == 0)
            total += val->n;
    }
    struct scry_label *v = total ? scry_arena_calloc(c->a, total, sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const struct scry_yaml_node *key = n->kids[2 * i], *val = n->kids[2 * i + 1];
        scry__cfg_path(kpath, sizeof kpath, path, key->s);
        if ((rc = want_string(c, key, kpath)))
            break;
        for (size_t j = 0; rc == 0 && !scry__yaml_is_null(val) && j < val->n; j++) {
            rc = want_string(c, val->kids[j], scry__cfg_index(ipath, sizeof ipath, kpath, j));
            v[k++] = (struct scry_label){ key->s, val->kids[j]->s };
        }
    }
    if (rc == 0) {
        assert(k == total);
        *(const struct scry_label **)(base + o->off) = v;
        *(size_t *)(base + o->off_n) = k;
    }
    return rc;
}

/* HTTP headers: one string per name, order kept (a header may not repeat). */
static int decode_headers(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                          const struct scry_yaml_node *n, const char *path)
{
    char kpath[PATH_MAX_LEN];
    int rc = want_kind(c, n, path, SCRY_YAML_MAP);
    struct scry_label *v = rc == 0 && n->n ? scry_arena_calloc(c->a, n->n, sizeof *v) : NULL;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const struct scry_yaml_node *key = n->kids[2 * i], *val = n->kids[2 * i + 1];
        scry__cfg_path(kpath, sizeof kpath, path, key->s);
        if ((rc = want_string(c, key, kpath)) || (rc = want_string(c, val, kpath)))
            break;
        v[i] = (struct scry_label){ key->s, val->s };
    }
    if (rc == 0) {
        *(const struct scry_label **)(base + o->off) = v;
        *(size_t *)(base + o->off_n) = n->n;
    }
    return rc;
}

static void apply_defaults(struct cfg_ctx *c, const struct cfg_section *sec, char *base);

static int decode_list(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                       const struct scry_yaml_node *n, const char *path)
{
    char ipath[PATH_MAX_LEN];
    int rc = want_kind(c, n, path, SCRY_YAML_SEQ);
    if (rc)
        return rc;
    const struct cfg_section *sub = o->sub;
    char *v = n->n ? scry_arena_calloc(c->a, n->n, sub->size) : NULL;
    /* Publish first so finish hooks of later elements can see earlier ones. */
    *(void **)(base + o->off) = v;
    *(size_t *)(base + o->off_n) = 0;
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const struct scry_yaml_node *item = n->kids[i];
        scry__cfg_index(ipath, sizeof ipath, path, i);
        if ((rc = want_kind(c, item, ipath, SCRY_YAML_MAP)))
            break;
        apply_defaults(c, sub, v + i * sub->size);
        rc = decode_section(c, sub, v + i * sub->size, item, item, ipath);
        *(size_t *)(base + o->off_n) = i + 1;
    }
    return rc;
}

static int decode_opt(struct cfg_ctx *c, const struct cfg_opt *o, char *base,
                      const struct scry_yaml_node *n, const struct scry_yaml_node *at,
                      const char *path)
{
    switch (o->type) {
    case CFG_IGNORED:
        return 0;
    case CFG_STRINGS:
        return decode_strings(c, o, base, n, path);
    case CFG_LABELS:
        return decode_labels(c, o, base, n, path);
    case CFG_PARAMS:
        return decode_params(c, o, base, n, path);
    case CFG_HEADERS:
        return decode_headers(c, o, base, n, path);
    case CFG_LIST:
        return decode_list(c, o, base, n, path);
    case CFG_OBJECT:
        if (n && n->kind != SCRY_YAML_MAP)
            return want_kind(c, n, path, SCRY_YAML_MAP);
        return decode_section(c, o->sub, base + o->off, n, n ? n : at, path);
    default:
        return decode_scalar(c, o, base, n, path);
    }
}

static const struct cfg_opt *find_opt(const struct cfg_section *sec, const char *key)
{
    for (size_t i = 0; i < sec->n_opts; i++)
        if (strcmp(sec->opts[i].key, key) == 0)
            return &sec->opts[i];
    return NULL;
}

static int decode_section(struct cfg_ctx *c, const struct cfg_section *sec, char *base,
                          const struct scry_yaml_node *map, const struct scry_yaml_node *at,
                          const char *path)
{
    char kpath[PATH_MAX_LEN];
    assert(!map || map->kind == SCRY_YAML_MAP);
    for (size_t i = 0; map && i < map->n; i++) {
        const struct scry_yaml_node *key = map->kids[2 * i];
        if (strlen(key->s) != key->len || !find_opt(sec, key->s)) /* "job_name\0x" too */
            return scry__cfg_fail(c, key, scry__cfg_path(kpath, sizeof kpath, path, key->s),
                                  "unknown key");
    }
    for (size_t i = 0; i < sec->n_opts; i++) {
        const struct cfg_opt *o = &sec->opts[i];
        const struct scry_yaml_node *n = scry__yaml_get(map, o->key);
        scry__cfg_path(kpath, sizeof kpath, path, o->key);
        if (scry__yaml_is_null(n))
            n = NULL;
        if (!n && (o->flags & CFG_REQUIRED))
            return scry__cfg_fail(c, at, path, "missing required key \"%s\"", o->key);
        int rc = 0;
        if (n || o->type == CFG_OBJECT) /* absent objects still get their finish hook */
            rc = decode_opt(c, o, base, n, at, kpath);
        if (rc)
            return rc;
    }
    return sec->finish ? sec->finish(c, base, map, at, path) : 0;
}

static void apply_defaults(struct cfg_ctx *c, const struct cfg_section *sec, char *base)
{
    for (size_t i = 0; i < sec->n_opts; i++) {
        const struct cfg_opt *o = &sec->opts[i];
        if (o->type == CFG_OBJECT) {
            apply_defaults(c, o->sub, base + o->off);
        } else if (o->def) {
            struct scry_yaml_node n = {
                .kind = SCRY_YAML_SCALAR, .s = o->def, .len = strlen(o->def), .plain = true,
            };
            int rc = decode_scalar(c, o, base, &n, o->key);
            SCRY_ASSERT(rc == 0); /* a table default that does not parse is a bug */
        }
    }
}

/* ---- load / destroy ---------------------------------------------------- */

int scry_config_load_string(const char *name, const char *yaml, size_t len,
                            struct scry_config **out, struct scry_err *err)
{
    if (!out || (!yaml && len))
        return scry_err_set(err, SCRY_EINVAL, "config: invalid arguments");
    if (!name)
        name = "<string>";
    if (len > CONFIG_MAX_BYTES)
        return scry_err_set(err, SCRY_ELIMIT, "%s: config larger than %d bytes", name,
                            CONFIG_MAX_BYTES);
    struct scry_arena *a = scry_arena_create(0);
    struct cfg_impl *impl = scry_arena_calloc(a, 1, sizeof *impl);
    struct scry_config *cfg = &impl->cfg;
    cfg->arena = a;
    cfg->source = scry_arena_strdup(a, name);
    struct cfg_ctx c = { .a = a, .file = name, .err = err, .cfg = cfg,
                         .regexes = &impl->regexes };
    struct scry_yaml_node *root = NULL;
    int rc = scry__yaml_parse(a, name, yaml ? yaml : "", len, &root, err);
    if (rc == 0 && scry__yaml_is_null(root))
        root = NULL; /* an empty file is the all-defaults config */
    if (rc == 0 && root && root->kind != SCRY_YAML_MAP)
        rc = scry__cfg_fail(&c, root, "", "the config must be a mapping, got %s",
                            scry__yaml_kind_name(root));
    if (rc == 0) {
        apply_defaults(&c, &scry__cfg_root, (char *)cfg);
        rc = decode_section(&c, &scry__cfg_root, (char *)cfg, root, root, "");
    }
    if (rc) {
        scry_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int scry_config_load_file(const char *path, struct scry_config **out, struct scry_err *err)
{
    if (!path || !out)
        return scry_err_set(err, SCRY_EINVAL, "config: invalid arguments");
    FILE *f = fopen(path, "rb");
    if (!f)
        return scry_err_sys(err, SCRY_EIO, "open %s", path);
    struct scry_buf b = { 0 };
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= CONFIG_MAX_BYTES)
        scry_buf_put(&b, chunk, n);
    int rc = ferror(f) ? scry_err_sys(err, SCRY_EIO, "read %s", path) : 0;
    fclose(f);
    if (rc == 0)
        rc = scry_config_load_string(path, b.p, b.len, out, err);
    scry_buf_fini(&b);
    return rc;
}

void scry_config_destroy(struct scry_config *cfg)
{
    if (!cfg)
        return;
    struct cfg_impl *impl = (struct cfg_impl *)cfg;
    for (struct cfg_regex *r = impl->regexes; r; r = r->next)
        pcre2_code_free(r->code);
    scry_arena_destroy(cfg->arena); /* last: impl itself lives in it */
}
