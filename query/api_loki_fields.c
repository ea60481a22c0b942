/* api_loki_fields.c — detected_fields and detected_field/<name>/values.
 *
 * Loki answers these from a sample of the selected lines: every line is
 * parsed as JSON when it is a JSON object and as logfmt otherwise, and
 * structured metadata counts too; for each field it reports a type (from
 * the first value seen), the number of distinct values and the parser.
 * We do the same over the newest `line_limit` entries (default 1000) of
 * the query's stream selector; the rest of the query (filters, parsers)
 * is not applied, which widens the sample but never invents a field that
 * is not in the selected streams. Stream labels are not fields. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/json_read.h"
#include "query/api_loki_internal.h"

#define HOUR_NS (3600ll * 1000000000ll)
#define DEFAULT_LIMIT 1000
#define DEFAULT_LINE_LIMIT 1000
#define MAX_FIELDS 1000

enum parser { P_META, P_LOGFMT, P_JSON, P_COUNT };
static const char *const parser_names[] = { NULL, "logfmt", "json" };

/* A set of strings: open addressing, arena-owned copies. */
struct strset {
    const char **v;
    size_t n, cap;
};

static bool strset_add(struct scry_arena *a, struct strset *s, const char *p, size_t len)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const char **nv = scry_arena_calloc(a, cap, sizeof *nv);
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i])
                continue;
            size_t h = scry_xxh64(s->v[i], strlen(s->v[i]), 0) & (cap - 1);
            while (nv[h])
                h = (h + 1) & (cap - 1);
            nv[h] = s->v[i];
        }
        s->v = nv;
        s->cap = cap;
    }
    size_t h = scry_xxh64(p, len, 0) & (s->cap - 1);
    for (; s->v[h]; h = (h + 1) & (s->cap - 1))
        if (strlen(s->v[h]) == len && memcmp(s->v[h], p, len) == 0)
            return false;
    s->v[h] = scry_arena_strndup(a, p, len);
    s->n++;
    return true;
}

struct field {
    const char *name;
    const char *type;
    bool parsers[P_COUNT];
    struct strset values;
};

struct detect {
    struct scry_arena *a, *scratch;
    struct field *f;
    size_t n, cap;
    const char *only; /* detected_field/<name>/values: just this field */
    uint64_t lines, line_limit;
    struct scry_buf key; /* sanitised key scratch */
};

static bool all_digits(const char *p, size_t len)
{
    size_t i = (len && (p[0] == '-' || p[0] == '+'));
    if (i == len)
        return false;
    for (; i < len; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return true;
}

static bool is_float(const char *p, size_t len)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = 0;
    char *end;
    strtod(buf, &end);
    return *end == 0 && !isalpha((unsigned char)buf[0]);
}

/* Go's time.ParseDuration form: [-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+ */
static bool is_unit_number(const char *p, size_t len, const char *const *units)
{
    size_t i = (len && (p[0] == '-' || p[0] == '+'));
    bool any = false;
    while (i < len) {
        size_t st = i;
        while (i < len && (isdigit((unsigned char)p[i]) || p[i] == '.'))
            i++;
        if (i == st)
            return false;
        while (i < len && p[i] == ' ')
            i++;
        size_t best = 0;
        for (const char *const *u = units; *u; u++) {
            size_t ul = strlen(*u);
            if (ul > best && i + ul <= len && strncasecmp(p + i, *u, ul) == 0)
                best = ul;
        }
        if (!best)
            return false;
        i += best;
        any = true;
    }
    return any;
}

static const char *value_type(const char *p, size_t len)
{
    static const char *const dur[] = { "ns", "us", "µs", "ms", "s", "m", "h", NULL };
    static const char *const bytes[] = { "b", "kb", "mb", "gb", "tb", "pb", "kib", "mib",
                                         "gib", "tib", "pib", "k", "ki", "mi", "gi", NULL };
    if ((len == 4 && strncasecmp(p, "true", 4) == 0) ||
        (len == 5 && strncasecmp(p, "false", 5) == 0))
        return "boolean";
    if (all_digits(p, len))
        return "int";
    if (is_float(p, len))
        return "float";
    if (is_unit_number(p, len, dur))
        return "duration";
    if (is_unit_number(p, len, bytes))
        return "bytes";
    return "string";
}

static void add(struct detect *d, enum parser pr, const char *k, size_t klen, const char *v,
                size_t vlen)
{
    /* Field names are label names: invalid bytes become '_', as Loki does. */
    scry_buf_reset(&d->key);
    for (size_t i = 0; i < klen; i++) {
        char ch = k[i];
        bool ok = ch == '_' || isalpha((unsigned char)ch) || (i && isdigit((unsigned char)ch));
        scry_buf_putc(&d->key, ok ? ch : '_');
    }
    if (!d->key.len)
        return;
    const char *name = d->key.p;
    if (d->only && strcmp(d->only, name) != 0)
        return;
    struct field *f = NULL;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->f[i].name, name) == 0) {
            f = &d->f[i];
            break;
        }
    if (!f) {
        if (d->n == MAX_FIELDS)
            return;
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 32;
            struct field *nf = scry_arena_alloc(d->a, d->cap * sizeof *nf);
            if (d->n)
                memcpy(nf, d->f, d->n * sizeof *nf);
            d->f = nf;
        }
        f = &d->f[d->n++];
        memset(f, 0, sizeof *f);
        f->name = scry_arena_strdup(d->a, name);
        f->type = value_type(v, vlen);
    }
    f->parsers[pr] = true;
    strset_add(d->a, &f->values, v, vlen);
}

/* logfmt: key=value, key="quoted value"; bare words are skipped. */
static void logfmt(struct detect *d, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t ks = i;
        while (i < len && p[i] != '=' && p[i] != ' ' && p[i] != '\t')
            i++;
        if (i >= len || p[i] != '=' || i == ks) {
            while (i < len && p[i] != ' ' && p[i] != '\t')
                i++;
            continue;
        }
        size_t ke = i++;
        if (i < len && p[i] == '"') {
            size_t vs = ++i;
            while (i < len && p[i] != '"')
                i += (p[i] == '\\' && i + 1 < len) ? 2 : 1;
            size_t ve = i < len ? i : len;
            i = i < len ? i + 1 : len;
            char *v = scry_arena_strndup(d->scratch, p + vs, ve - vs);
            add(d, P_LOGFMT, p + ks, ke - ks, v, ve - vs);
        } else {
            size_t vs = i;
            while (i < len && p[i] != ' ' && p[i] != '\t')
                i++;
            add(d, P_LOGFMT, p + ks, ke - ks, p + vs, i - vs);
        }
    }
}

static void json_obj(struct detect *d, const struct scry_jval *o, struct scry_buf *prefix)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct scry_jmember *m = &o->u.obj[i];
        size_t at = prefix->len;
        if (at)
            scry_buf_putc(prefix, '_');
        scry_buf_put(prefix, m->key.p, m->key.len);
        const struct scry_jval *v = &m->val;
        switch (v->type) {
        case SCRY_JSON_OBJECT:
            json_obj(d, v, prefix);
            break;
        case SCRY_JSON_STRING:
        case SCRY_JSON_NUMBER:
            add(d, P_JSON, prefix->p, prefix->len, v->u.s, v->n);
            break;
        case SCRY_JSON_BOOL:
            add(d, P_JSON, prefix->p, prefix->len, v->b ? "true" : "false", v->b ? 4 : 5);
            break;
        default:
            break; /* arrays and nulls are not fields */
        }
        prefix->len = at;
    }
}

static bool detect_entry(void *ud, size_t si, const struct scry_labels *ls,
                         const struct scry_log_entry *e)
{
    (void)si;
    (void)ls;
    struct detect *d = ud;
    for (size_t i = 0; i < e->metadata.n; i++) {
        const struct scry_label *l = &e->metadata.v[i];
        add(d, P_META, l->name, strlen(l->name), l->value, strlen(l->value));
    }
    const char *p = e->line.p;
    size_t len = e->line.len, i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    struct scry_jval *root;
    scry_arena_reset(d->scratch);
    if (i < len && p[i] == '{' &&
        scry_json_parse(d->scratch, p, len, &(struct scry_json_parse_opts){ .max_depth = 32 },
                        &root, NULL) == 0 &&
        root->type == SCRY_JSON_OBJECT) {
        struct scry_buf prefix = { 0 };
        json_obj(d, root, &prefix);
        scry_buf_fini(&prefix);
    } else {
        logfmt(d, p, len);
    }
    return ++d->lines < d->line_limit;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const struct field *)a)->name, ((const struct field *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sweep(struct loki_api_ctx *c, const char *only)
{
    int64_t start, end;
    uint64_t limit = DEFAULT_LIMIT, line_limit = DEFAULT_LINE_LIMIT;
    if (loki__range(c, HOUR_NS, &start, &end) != 0)
        return;
    /* limit counts fields (values), not entries: Loki's max_entries rule
     * does not apply, only positivity. */
    const char *ls = scry_http_param(c->req, "limit"), *ll = scry_http_param(c->req, "line_limit");
    if (ls && *ls && (limit = strtoull(ls, NULL, 10)) == 0) {
        loki__error(c, 400, "limit must be a positive value");
        return;
    }
    if (ll && *ll && (line_limit = strtoull(ll, NULL, 10)) == 0) {
        loki__error(c, 400, "line_limit must be a positive value");
        return;
    }
    struct detect d = { .a = c->req->arena, .only = only, .line_limit = line_limit };
    d.scratch = scry_arena_create(16384);
    int rc = loki__scan(c, scry_http_param(c->req, "query"), start, end, true, detect_entry, &d);
    scry_arena_destroy(d.scratch);
    scry_buf_fini(&d.key);
    if (rc != 0)
        return;
    struct scry_json j;
    scry_json_init(&j, &c->resp->body);
    scry_json_obj_begin(&j);
    if (only) {
        scry_json_key(&j, "values");
        scry_json_arr_begin(&j);
        if (d.n) {
            struct strset *s = &d.f[0].values;
            const char **v = scry_arena_alloc(c->req->arena, (s->n + 1) * sizeof *v);
            size_t n = 0;
            for (size_t i = 0; i < s->cap; i++)
                if (s->v[i])
                    v[n++] = s->v[i];
            qsort(v, n, sizeof *v, cmp_str);
            for (size_t i = 0; i < n && i < limit; i++)
                scry_json_str(&j, v[i]);
        }
        scry_json_arr_end(&j);
    } else {
        qsort(d.f, d.n, sizeof *d.f, cmp_field);
        scry_json_key(&j, "fields");
        scry_json_arr_begin(&j);
        for (size_t i = 0; i < d.n && i < limit; i++) {
            const struct field *f = &d.f[i];
            scry_json_obj_begin(&j);
            scry_json_key(&j, "label");
            scry_json_str(&j, f->name);
            scry_json_key(&j, "type");
            scry_json_str(&j, f->type);
            scry_json_key(&j, "cardinality");
            scry_json_uint(&j, f->values.n);
            scry_json_key(&j, "parsers");
            if (f->parsers[P_LOGFMT] || f->parsers[P_JSON]) {
                scry_json_arr_begin(&j);
                for (int p = P_LOGFMT; p < P_COUNT; p++)
                    if (f->parsers[p])
                        scry_json_str(&j, parser_names[p]);
                scry_json_arr_end(&j);
            } else {
                scry_json_null(&j); /* structured metadata needs no parser */
            }
            scry_json_obj_end(&j);
        }
        scry_json_arr_end(&j);
    }
    scry_json_key(&j, "limit");
    scry_json_uint(&j, limit);
    scry_json_obj_end(&j);
}

void loki__detected_fields(struct loki_api_ctx *c) { sweep(c, NULL); }

void loki__detected_field_values(struct loki_api_ctx *c)
{
    const char *name = scry_http_path_param(c->req, "name");
    if (!name || !*name) {
        loki__error(c, 400, "missing field name");
        return;
    }
    sweep(c, name);
}
