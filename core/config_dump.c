/* config_dump.c — the effective config written back as YAML, from the same
 * tables that decoded it (/api/v1/status/config, `scry check --dump`).
 *
 * The dump is meant to be loaded again and give an equal config, so it
 * writes effective values (inherited scrape intervals, logs_retention) and
 * chooses spellings that re-parse exactly: strings always double-quoted with
 * escapes, durations in Prometheus form, byte sizes in the largest exact
 * binary unit. Unset strings and empty lists are left out; they are the
 * defaults. Block style, two-space indent, table order. */
#include "core/config_internal.h"
#include "core/buf.h"
#include "core/timeparse.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void indent(struct scry_buf *out, int n)
{
    for (int i = 0; i < n; i++)
        scry_buf_putc(out, ' ');
}

static void put_quoted(struct scry_buf *out, const char *s)
{
    scry_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': scry_buf_puts(out, "\\\""); break;
        case '\\': scry_buf_puts(out, "\\\\"); break;
        case '\n': scry_buf_puts(out, "\\n"); break;
        case '\t': scry_buf_puts(out, "\\t"); break;
        case '\r': scry_buf_puts(out, "\\r"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                scry_buf_printf(out, "\\x%02x", *p);
            else
                scry_buf_putc(out, (char)*p);
        }
    }
    scry_buf_putc(out, '"');
}

static void put_bytes(struct scry_buf *out, int64_t v)
{
    static const char *const units[] = { "EiB", "PiB", "TiB", "GiB", "MiB", "KiB" };
    if (v == 0) {
        scry_buf_puts(out, "0");
        return;
    }
    for (int i = 0; i < 6; i++) {
        int64_t mult = (int64_t)1 << (10 * (6 - i));
        if (v % mult == 0) {
            scry_buf_printf(out, "%" PRId64 "%s", v / mult, units[i]);
            return;
        }
    }
    scry_buf_printf(out, "%" PRId64 "B", v);
}

static void dump_section(struct scry_buf *out, const struct cfg_section *sec, const char *base,
                         int ind, bool redact);

/* Writes "key:" then a list of objects, each "- " + its first key. */
static void dump_list(struct scry_buf *out, const struct cfg_opt *o, const char *base, int ind,
                      bool redact)
{
    const char *v = *(char *const *)(base + o->off);
    size_t n = *(const size_t *)(base + o->off_n);
    if (n == 0)
        return;
    indent(out, ind);
    scry_buf_printf(out, "%s:\n", o->key);
    for (size_t i = 0; i < n; i++) {
        struct scry_buf item = { 0 };
        dump_section(&item, o->sub, v + i * o->sub->size, ind + 4, redact);
        indent(out, ind + 2);
        if (item.len == 0) {
            scry_buf_puts(out, "- {}\n");
        } else {
            assert(item.len > (size_t)ind + 4);
            scry_buf_puts(out, "- ");
            scry_buf_puts(out, item.p + ind + 4); /* the first line's indent becomes "- " */
        }
        scry_buf_fini(&item);
    }
}

static void dump_opt(struct scry_buf *out, const struct cfg_opt *o, const char *base, int ind,
                     bool redact)
{
    const void *p = base + o->off;
    switch (o->type) {
    case CFG_STRING:
    case CFG_REGEX: {
        const char *s = *(const char *const *)p;
        if (!s)
            return;
        indent(out, ind);
        scry_buf_printf(out, "%s: ", o->key);
        put_quoted(out, redact && (o->flags & CFG_SECRET) ? "<secret>" : s);
        break;
    }
    case CFG_BOOL:
        indent(out, ind);
        scry_buf_printf(out, "%s: %s", o->key, *(const bool *)p ? "true" : "false");
        break;
    case CFG_INT:
        indent(out, ind);
        scry_buf_printf(out, "%s: %" PRId64, o->key, *(const int64_t *)p);
        break;
    case CFG_UINT:
        indent(out, ind);
        scry_buf_printf(out, "%s: %" PRIu64, o->key, *(const uint64_t *)p);
        break;
    case CFG_DURATION:
        indent(out, ind);
        scry_buf_printf(out, "%s: ", o->key);
        scry_duration_format(*(const int64_t *)p, out);
        break;
    case CFG_BYTES:
        indent(out, ind);
        scry_buf_printf(out, "%s: ", o->key);
        put_bytes(out, *(const int64_t *)p);
        break;
    case CFG_ENUM:
        indent(out, ind);
        scry_buf_printf(out, "%s: %s", o->key, o->names[*(const int *)p]);
        break;
    case CFG_STRINGS: {
        const char *const *v = *(const char *const *const *)p;
        size_t n = *(const size_t *)(base + o->off_n);
        if (n == 0)
            return;
        indent(out, ind);
        scry_buf_printf(out, "%s:", o->key);
        for (size_t i = 0; i < n; i++) {
            scry_buf_putc(out, '\n');
            indent(out, ind + 2);
            scry_buf_puts(out, "- ");
            put_quoted(out, v[i]);
        }
        break;
    }
    case CFG_LABELS: {
        const struct scry_labels *ls = p;
        if (ls->n == 0)
            return;
        indent(out, ind);
        scry_buf_printf(out, "%s:", o->key);
        for (size_t i = 0; i < ls->n; i++) {
            scry_buf_putc(out, '\n');
            indent(out, ind + 2);
            scry_buf_printf(out, "%s: ", ls->v[i].name);
            put_quoted(out, ls->v[i].value);
        }
        break;
    }
    case CFG_PARAMS: {
        const struct scry_label *v = *(const struct scry_label *const *)p;
        size_t n = *(const size_t *)(base + o->off_n);
        if (n == 0)
            return;
        indent(out, ind);
        scry_buf_printf(out, "%s:", o->key);
        for (size_t i = 0; i < n; i++) {
            /* Values of one key are adjacent: decode_params flattens per key. */
            if (i == 0 || strcmp(v[i].name, v[i - 1].name) != 0) {
                scry_buf_putc(out, '\n');
                indent(out, ind + 2);
                put_quoted(out, v[i].name);
                scry_buf_putc(out, ':');
            }
            scry_buf_putc(out, '\n');
            indent(out, ind + 4);
            scry_buf_puts(out, "- ");
            put_quoted(out, v[i].value);
        }
        break;
    }
    case CFG_HEADERS: {
        const struct scry_label *v = *(const struct scry_label *const *)p;
        size_t n = *(const size_t *)(base + o->off_n);
        if (n == 0)
            return;
        indent(out, ind);
        scry_buf_printf(out, "%s:", o->key);
        for (size_t i = 0; i < n; i++) {
            scry_buf_putc(out, '\n');
            indent(out, ind + 2);
            put_quoted(out, v[i].name);
            scry_buf_puts(out, ": ");
            put_quoted(out, redact && (o->flags & CFG_SECRET) ? "<secret>" : v[i].value);
        }
        break;
    }
    case CFG_OBJECT: {
        struct scry_buf sub = { 0 };
        dump_section(&sub, o->sub, (const char *)p, ind + 2, redact);
        if (sub.len) {
            indent(out, ind);
            scry_buf_printf(out, "%s:\n", o->key);
            scry_buf_put(out, sub.p, sub.len);
        }
        scry_buf_fini(&sub);
        return; /* sub already ends with a newline */
    }
    case CFG_LIST:
        dump_list(out, o, base, ind, redact);
        return;
    case CFG_IGNORED:
        return;
    }
    scry_buf_putc(out, '\n');
}

static void dump_section(struct scry_buf *out, const struct cfg_section *sec, const char *base,
                         int ind, bool redact)
{
    for (size_t i = 0; i < sec->n_opts; i++)
        if (!(sec->opts[i].flags & CFG_NODUMP))
            dump_opt(out, &sec->opts[i], base, ind, redact);
}

void scry_config_dump(const struct scry_config *cfg, struct scry_buf *out)
{
    assert(cfg && out);
    dump_section(out, &scry__cfg_root, (const char *)cfg, 0, false);
}

void scry_config_dump_redacted(const struct scry_config *cfg, struct scry_buf *out)
{
    assert(cfg && out);
    dump_section(out, &scry__cfg_root, (const char *)cfg, 0, true);
}

/* ---- key reference ----------------------------------------------------- */

static const char *const type_names[] = {
    [CFG_STRING] = "string",     [CFG_BOOL] = "bool",         [CFG_INT] = "int",
    [CFG_UINT] = "uint",         [CFG_DURATION] = "duration", [CFG_BYTES] = "bytes",
    [CFG_ENUM] = "enum",         [CFG_STRINGS] = "[string]",  [CFG_LABELS] = "labels",
    [CFG_PARAMS] = "{string: [string]}", [CFG_OBJECT] = "object", [CFG_LIST] = "[object]",
    [CFG_REGEX] = "regex",       [CFG_IGNORED] = "ignored",   [CFG_HEADERS] = "{string: string}",
};

static void describe_section(struct scry_buf *out, const struct cfg_section *sec,
                             const char *prefix)
{
    for (size_t i = 0; i < sec->n_opts; i++) {
        const struct cfg_opt *o = &sec->opts[i];
        char key[256];
        int n = snprintf(key, sizeof key, "%s%s%s%s", prefix, *prefix ? "." : "", o->key,
                         o->type == CFG_LIST ? "[]" : "");
        assert(n > 0 && (size_t)n < sizeof key); /* table keys are short */
        scry_buf_printf(out, "%s\t%s\t", key, type_names[o->type]);
        if (o->names) {
            for (int j = 0; o->names[j]; j++)
                scry_buf_printf(out, "%s%s", j ? "|" : "", o->names[j]);
            scry_buf_putc(out, ' ');
        }
        scry_buf_printf(out, "%s%s\t%s\n", o->flags & CFG_REQUIRED ? "required" : "default ",
                        o->flags & CFG_REQUIRED ? "" : o->def ? o->def : "none", o->help);
        if (o->type == CFG_OBJECT || o->type == CFG_LIST)
            describe_section(out, o->sub, key);
    }
}

void scry_config_describe(struct scry_buf *out)
{
    assert(out);
    describe_section(out, &scry__cfg_root, "");
}
