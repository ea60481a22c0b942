/* otlp_names.c — OTLP metric and attribute names to Prometheus names.
 *
 * The rules are Prometheus's OTLP receiver with its default translation
 * strategy, UnderscoreEscapingWithSuffixes (prometheus/otlptranslator,
 * normalize_name.go / normalize_label.go; the same rules as the
 * OpenTelemetry "Prometheus and OpenMetrics compatibility" spec):
 *
 *   metric: split the name into words at every character outside
 *   [a-zA-Z0-9:] (so "_" splits too, which removes leading, trailing and
 *   doubled underscores); add the unit as words, mapped through the UCUM
 *   table below ("s" → seconds, "By" → bytes), unless the name already has
 *   that word; "x/y" adds x's word and then "per" and y's per-unit word
 *   ("m/s" → meters_per_second); units in braces ("{request}") add nothing;
 *   monotonic sums get "total" as their last word (any other "total" word
 *   is removed); gauges of unit "1" get "ratio" likewise; join with "_";
 *   a leading digit gets a "_" in front.
 *
 *   label: every character outside [a-zA-Z0-9_] becomes "_" (a multi-byte
 *   UTF-8 character becomes one "_", as Go maps runes); a leading digit gets
 *   "key_" in front, a single leading "_" gets "key" ("_x" → "key_x"),
 *   "__x" stays (Prometheus keeps reserved names).
 *
 * Tests: tests/unit/collector/test_otlp.c, the naming tables. */
#include "collector/otlp_internal.h"

#include <string.h>

#include "core/mem.h"

static const struct { const char *ucum, *word; } unit_words[] = {
    { "d", "days" },          { "h", "hours" },         { "min", "minutes" },
    { "s", "seconds" },       { "ms", "milliseconds" }, { "us", "microseconds" },
    { "ns", "nanoseconds" },  { "By", "bytes" },        { "KiBy", "kibibytes" },
    { "MiBy", "mebibytes" },  { "GiBy", "gibibytes" },  { "TiBy", "tebibytes" },
    { "KBy", "kilobytes" },   { "MBy", "megabytes" },   { "GBy", "gigabytes" },
    { "TBy", "terabytes" },   { "m", "meters" },        { "V", "volts" },
    { "A", "amperes" },       { "J", "joules" },        { "W", "watts" },
    { "g", "grams" },         { "Cel", "celsius" },     { "Hz", "hertz" },
    { "1", "" },              { "%", "percent" },       { "$", "dollars" },
};

static const struct { const char *ucum, *word; } per_unit_words[] = {
    { "s", "second" }, { "m", "minute" }, { "h", "hour" },  { "d", "day" },
    { "w", "week" },   { "mo", "month" }, { "y", "year" },
};

static bool metric_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':';
}

static bool alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

#define MAX_WORDS 64

struct words {
    struct scry_str w[MAX_WORDS];
    size_t n;
};

static bool has_word(const struct words *ws, const char *p, size_t len)
{
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i].len == len && memcmp(ws->w[i].p, p, len) == 0)
            return true;
    return false;
}

/* Splits [p, p+len) into words of characters keep() accepts. Past
 * MAX_WORDS words the rest goes into the last one, invalid characters
 * included; they are replaced when joining. */
static void split(struct words *ws, const char *p, size_t len, bool (*keep)(unsigned char))
{
    size_t i = 0;
    while (i < len) {
        while (i < len && !keep((unsigned char)p[i]))
            i++;
        size_t s = i;
        while (i < len && keep((unsigned char)p[i]))
            i++;
        if (i == s)
            break;
        if (ws->n == MAX_WORDS) {
            struct scry_str *last = &ws->w[MAX_WORDS - 1];
            last->len = (size_t)(p + i - last->p);
        } else {
            ws->w[ws->n++] = (struct scry_str){ p + s, i - s };
        }
    }
}

static void remove_word(struct words *ws, const char *z)
{
    size_t k = 0, len = strlen(z);
    for (size_t i = 0; i < ws->n; i++)
        if (!(ws->w[i].len == len && memcmp(ws->w[i].p, z, len) == 0))
            ws->w[k++] = ws->w[i];
    ws->n = k;
}

static void add_word(struct words *ws, const char *p, size_t len)
{
    if (ws->n < MAX_WORDS)
        ws->w[ws->n++] = (struct scry_str){ p, len };
}

/* A unit's Prometheus word, cleaned: characters outside [a-zA-Z0-9] split
 * it and the pieces are joined with "_" (Prometheus's CleanUpString). */
static void unit_word(struct scry_str u, bool per, struct scry_buf *out)
{
    while (u.len && (u.p[0] == ' ' || u.p[0] == '\t'))
        u.p++, u.len--;
    while (u.len && (u.p[u.len - 1] == ' ' || u.p[u.len - 1] == '\t'))
        u.len--;
    if (u.len == 0 || memchr(u.p, '{', u.len) || memchr(u.p, '}', u.len))
        return;
    const char *w = NULL;
    if (per) {
        for (size_t i = 0; i < sizeof per_unit_words / sizeof per_unit_words[0]; i++)
            if (scry_str_eqz(u, per_unit_words[i].ucum))
                w = per_unit_words[i].word;
    } else {
        for (size_t i = 0; i < sizeof unit_words / sizeof unit_words[0]; i++)
            if (scry_str_eqz(u, unit_words[i].ucum))
                w = unit_words[i].word;
    }
    struct scry_str s = w ? scry_str_c(w) : u;
    struct words ws = { .n = 0 };
    split(&ws, s.p, s.len, alnum);
    for (size_t i = 0; i < ws.n; i++) {
        if (i)
            scry_buf_putc(out, '_');
        for (size_t k = 0; k < ws.w[i].len; k++)
            scry_buf_putc(out, alnum((unsigned char)ws.w[i].p[k]) ? ws.w[i].p[k] : '_');
    }
}

void col_otlp_metric_name(const char *name, const char *unit, enum col_otlp_kind kind,
                          struct scry_buf *out)
{
    struct words ws = { .n = 0 };
    struct scry_buf main_w = { 0 }, per_w = { 0 };
    size_t start = out->len;
    name = name ? name : "";
    unit = unit ? unit : "";
    split(&ws, name, strlen(name), metric_char);

    const char *slash = strchr(unit, '/');
    struct scry_str mu = { unit, slash ? (size_t)(slash - unit) : strlen(unit) };
    unit_word(mu, false, &main_w);
    if (main_w.len && !has_word(&ws, main_w.p, main_w.len))
        add_word(&ws, main_w.p, main_w.len);
    if (slash && slash[1]) {
        unit_word(scry_str_c(slash + 1), true, &per_w);
        if (per_w.len && !has_word(&ws, per_w.p, per_w.len)) {
            add_word(&ws, "per", 3);
            add_word(&ws, per_w.p, per_w.len);
        }
    }
    if (kind == COL_OTLP_COUNTER) {
        remove_word(&ws, "total");
        add_word(&ws, "total", 5);
    }
    if (kind == COL_OTLP_GAUGE && strcmp(unit, "1") == 0) {
        remove_word(&ws, "ratio");
        add_word(&ws, "ratio", 5);
    }
    for (size_t i = 0; i < ws.n; i++) {
        if (i)
            scry_buf_putc(out, '_');
        /* only the merged overflow word can hold invalid characters */
        for (size_t k = 0; k < ws.w[i].len; k++)
            scry_buf_putc(out, metric_char((unsigned char)ws.w[i].p[k]) ? ws.w[i].p[k] : '_');
    }
    if (out->len > start && out->p[start] >= '0' && out->p[start] <= '9') {
        scry_buf_putc(out, 0); /* make room, then shift right by one */
        memmove(out->p + start + 1, out->p + start, out->len - start - 1);
        out->p[start] = '_';
    }
    scry_buf_fini(&main_w);
    scry_buf_fini(&per_w);
}

void col_otlp_label_name(const char *key, struct scry_buf *out)
{
    const unsigned char *p = (const unsigned char *)(key ? key : "");
    if (!*p)
        return;
    /* The prefix depends on the sanitised name (".x" → "_x" → "key_x"). */
    const unsigned char *q = p;
    char c0 = alnum(*q) || *q == '_' ? (char)*q : '_';
    char c1 = 0;
    if (*q) {
        q++;
        while (*q >= 0x80 && *q < 0xc0) /* rest of the first character */
            q++;
        c1 = !*q ? 0 : (alnum(*q) || *q == '_' ? (char)*q : '_');
    }
    if (c0 >= '0' && c0 <= '9')
        scry_buf_puts(out, "key_");
    else if (c0 == '_' && c1 != '_')
        scry_buf_puts(out, "key");
    while (*p) {
        const unsigned char *run = p;
        while (alnum(*p) || *p == '_')
            p++;
        scry_buf_put(out, run, (size_t)(p - run)); /* valid runs in one copy */
        if (!*p)
            break;
        if (*p < 0x80 || *p >= 0xc0)
            scry_buf_putc(out, '_'); /* one per character: continuation bytes are skipped */
        p++;
    }
}
