/* logql_level.c — `detected_level`, derived at query time.
 *
 * Loki 3 adds `detected_level` to every entry's structured metadata at
 * ingest (pkg/distributor/field_detection.go); Grafana's logs volume
 * groups by it: `sum by (level, detected_level) (count_over_time(...))`.
 * scry derives the same value while a query runs, for queries that name
 * detected_level anywhere (the parser sets lql_log.detect_level), so
 * ingest stays as it is and stored data carries nothing extra. The rules,
 * in Loki's order:
 *   1. the first of level, LEVEL, Level, log.level, severity, SEVERITY,
 *      Severity, SeverityText, lvl, LVL, Lvl that is a stream label: its
 *      value as is; else the first that is structured metadata;
 *   2. structured metadata severity_number (OTLP): 0 unknown, 1-4 trace,
 *      5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal, above
 *      unknown, not a number info;
 *   3. a JSON line (first non-space '{', last '}'): the first string value
 *      under one of those keys (exact case), in document order, in the top
 *      object or one nested below it (Loki's default max depth 2); a line
 *      with '=' (logfmt): the value of the key matching the earliest name
 *      of the list, case-insensitively; the value then maps, ignoring case,
 *      trace|trc, debug|dbg, info|inf, warn|wrn|warning, error|err,
 *      critical, fatal to those names;
 *   4. otherwise (no such field, or another value): keywords anywhere in
 *      the line — info/INFO, err/ERR, warn/WARN, critical/CRITICAL,
 *      debug/DEBUG, tried in that order — else "unknown".
 * An entry that already has detected_level (pushed as metadata) keeps it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/logql_internal.h"

static const char *const fields[] = { "level",    "LEVEL",    "Level",        "log.level",
                                      "severity", "SEVERITY", "Severity",     "SeverityText",
                                      "lvl",      "LVL",      "Lvl" };
#define N_FIELDS (sizeof fields / sizeof fields[0])
#define JSON_MAX_DEPTH 2

static const struct lql_lbl *first_field(const struct lql_row *r, int kind)
{
    for (size_t f = 0; f < N_FIELDS; f++)
        for (size_t i = r->n; i-- > 0;) {
            const struct lql_lbl *l = &r->v[i];
            if (!l->dead && l->kind == kind && !strcmp(l->name, fields[f]))
                return l;
        }
    return NULL;
}

static const char *from_severity_number(const char *s, size_t len)
{
    char *end;
    long n = len ? strtol(s, &end, 10) : 0;
    if (!len || end != s + len)
        return "info"; /* Go's strconv.Atoi failed */
    if (n == 0)
        return "unknown";
    return n <= 4 ? "trace" : n <= 8 ? "debug" : n <= 12 ? "info" : n <= 16 ? "warn"
         : n <= 20 ? "error" : n <= 24 ? "fatal" : "unknown";
}

/* ---- a lenient JSON walk, as buger/jsonparser's ObjectEach ---- */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': the end of the string (after its closing quote), or NULL. */
static const char *str_end(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Skips one value that is not a string; NULL when the input breaks. */
static const char *skip_value(const char *p, const char *e)
{
    int nest = 0;
    for (; p < e; p++) {
        if (*p == '"') {
            if (!(p = str_end(p, e)))
                return NULL;
            p--;
        } else if (*p == '{' || *p == '[') {
            nest++;
        } else if (*p == '}' || *p == ']') {
            if (nest == 0)
                return p;
            if (--nest == 0)
                return p + 1;
        } else if (*p == ',' && nest == 0) {
            return p;
        }
    }
    return nest ? NULL : p;
}

static bool is_field(const char *k, size_t len)
{
    for (size_t f = 0; f < N_FIELDS; f++)
        if (strlen(fields[f]) == len && !memcmp(fields[f], k, len))
            return true;
    return false;
}

/* Walks the object at p ('{'); on a hit the value is in v, vlen and true returned. */
static bool json_find(const char *p, const char *e, int depth, const char **v, size_t *vlen,
                      const char **after)
{
    p = ws(p + 1, e);
    while (p < e && *p != '}') {
        if (*p != '"')
            return false;
        const char *ke = str_end(p, e);
        if (!ke)
            return false;
        const char *k = p + 1;
        size_t klen = (size_t)(ke - 1 - k);
        p = ws(ke, e);
        if (p >= e || *p != ':')
            return false;
        p = ws(p + 1, e);
        if (p >= e)
            return false;
        if (*p == '"') {
            const char *se = str_end(p, e);
            if (!se)
                return false;
            if (is_field(k, klen)) {
                *v = p + 1;
                *vlen = (size_t)(se - 1 - (p + 1));
                return true;
            }
            p = se;
        } else if (*p == '{' && depth + 1 < JSON_MAX_DEPTH) {
            if (json_find(p, e, depth + 1, v, vlen, &p))
                return true;
            if (!p)
                return false;
        } else if (!(p = skip_value(p, e))) {
            return false;
        }
        p = ws(p, e);
        if (p < e && *p == ',')
            p = ws(p + 1, e);
    }
    if (after)
        *after = p < e ? p + 1 : NULL;
    return false;
}

/* ---- logfmt, as Loki's decoder splits keys and values ---- */

static bool logfmt_find(const char *p, const char *e, const char **v, size_t *vlen)
{
    size_t best = N_FIELDS;
    while (p < e) {
        while (p < e && (unsigned char)*p <= ' ')
            p++;
        const char *k = p;
        while (p < e && (unsigned char)*p > ' ' && *p != '=' && *p != '"')
            p++;
        size_t klen = (size_t)(p - k);
        const char *val = p, *ve = p;
        if (p < e && *p == '=') {
            p++;
            if (p < e && *p == '"') {
                const char *se = str_end(p, e);
                val = p + 1;
                ve = se ? se - 1 : e;
                p = se ? se : e;
            } else {
                val = p;
                while (p < e && (unsigned char)*p > ' ')
                    p++;
                ve = p;
            }
        } else if (p < e && *p == '"') {
            p = str_end(p, e);
            if (!p)
                break;
            continue;
        }
        if (!klen)
            continue;
        for (size_t f = 0; f < best; f++)
            if (strlen(fields[f]) == klen && !strncasecmp(fields[f], k, klen)) {
                best = f;
                *v = val;
                *vlen = (size_t)(ve - val);
                if (f == 0)
                    return true;
                break;
            }
    }
    return best < N_FIELDS;
}

static bool eqfold(const char *v, size_t len, const char *z)
{
    return strlen(z) == len && !strncasecmp(v, z, len);
}

static bool has(const char *s, size_t len, const char *a, const char *b)
{
    return memmem(s, len, a, strlen(a)) || memmem(s, len, b, strlen(b));
}

static const char *from_keywords(const char *s, size_t len)
{
    if (has(s, len, "info", "INFO"))
        return "info";
    if (has(s, len, "err", "ERR")) /* also matches error/ERROR */
        return "error";
    if (has(s, len, "warn", "WARN"))
        return "warn";
    if (has(s, len, "critical", "CRITICAL"))
        return "critical";
    if (has(s, len, "debug", "DEBUG"))
        return "debug";
    return "unknown";
}

static bool is_json(const char *s, size_t len)
{
    const char *p = s, *e = s + len;
    while (p < e && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
        p++;
    while (e > p && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
        e--;
    return e - p >= 2 && *p == '{' && e[-1] == '}';
}

static const char *from_line(const char *s, size_t len)
{
    const char *v = NULL;
    size_t vlen = 0;
    bool found;
    if (is_json(s, len)) {
        const char *p = s;
        while (*p != '{')
            p++;
        found = json_find(p, s + len, 0, &v, &vlen, NULL);
    } else if (memchr(s, '=', len)) {
        found = logfmt_find(s, s + len, &v, &vlen);
    } else {
        return from_keywords(s, len);
    }
    if (found) {
        static const struct {
            const char *a, *b, *c, *level;
        } map[] = {
            { "trace", "trc", NULL, "trace" }, { "debug", "dbg", NULL, "debug" },
            { "info", "inf", NULL, "info" },   { "warn", "wrn", "warning", "warn" },
            { "error", "err", NULL, "error" }, { "critical", NULL, NULL, "critical" },
            { "fatal", NULL, NULL, "fatal" },
        };
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (eqfold(v, vlen, map[i].a) || (map[i].b && eqfold(v, vlen, map[i].b)) ||
                (map[i].c && eqfold(v, vlen, map[i].c)))
                return map[i].level;
    }
    return from_keywords(s, len);
}

void lql__detect_level(struct lql_row *r)
{
    if (lql__row_get(r, "detected_level"))
        return;
    const struct lql_lbl *l = first_field(r, LQL_LBL_STREAM);
    if (!l)
        l = first_field(r, LQL_LBL_META);
    if (l) {
        lql__row_set(r, "detected_level", 14, l->val, l->vlen, LQL_LBL_META, true);
        return;
    }
    const char *lv;
    const struct lql_lbl *sev = lql__row_get(r, "severity_number");
    if (sev && sev->kind == LQL_LBL_META && sev->vlen)
        lv = from_severity_number(sev->val, sev->vlen);
    else
        lv = from_line(r->line, r->line_len);
    lql__row_set(r, "detected_level", 14, lv, strlen(lv), LQL_LBL_META, true);
}
