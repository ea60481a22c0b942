/* logql_eval_count.c — the allocation-free key of a counting range
 * aggregation over a `pattern` pipeline.
 *
 * `sum by (status) (count_over_time({app="nginx"} | pattern "..." [1m]))`
 * needs, per entry, only the bytes of the grouping labels. When the
 * pipeline is leading line filters then one pattern, and the grouping
 * labels are pattern captures or stream labels, the pattern is matched in
 * place and the group key (logql_eval.c group_key's encoding: per `by`
 * label, a u32 length and the value) is built from the captured spans: no
 * row, no label copies. The evaluator looks the key up in its cache of
 * groups; only an unseen key goes through the full pipeline, which then
 * names the series. Entries with structured metadata, and streams with a
 * label named like a capture (the capture becomes `name_extracted`) or
 * `__error__`, take the full pipeline too. */
#include <string.h>

#include "core/mem.h"
#include "query/logql_internal.h"

#define FAST_MAX_PARTS 64

bool lql__fast_init(struct lql_fast *f, const struct lql_log *log, const struct lql_grouping *g,
                    struct scry_arena *a)
{
    memset(f, 0, sizeof *f);
    if (!g || !g->present || g->without)
        return false;
    size_t i = 0;
    while (i < log->n_stages && log->stages[i].kind == LQL_ST_FILTER)
        i++;
    if (i + 1 != log->n_stages || log->stages[i].kind != LQL_ST_PATTERN)
        return false;
    f->lead = i;
    f->pat = &log->stages[i];
    if (f->pat->u.text.n_parts > FAST_MAX_PARTS)
        return false;
    f->g = g;
    f->src = scry_arena_alloc(a, (g->n + 1) * sizeof *f->src);
    for (size_t k = 0; k < g->n; k++) {
        f->src[k] = -1; /* a stream label, or absent */
        for (size_t p = 0; p < f->pat->u.text.n_parts; p++) {
            const struct lql_pat_part *pp = &f->pat->u.text.parts[p];
            if (!pp->lit && strcmp(pp->name, "_") && !strcmp(pp->name, g->labels[k]))
                f->src[k] = (int)p; /* the last capture of that name wins */
        }
    }
    f->sval = scry_arena_alloc(a, (g->n + 1) * sizeof *f->sval);
    f->slen = scry_arena_alloc(a, (g->n + 1) * sizeof *f->slen);
    return true;
}

bool lql__fast_stream(struct lql_fast *f, const struct scry_labels *ls)
{
    f->cur = ls;
    f->stream_ok = !scry_labels_get(ls, "__error__");
    for (size_t p = 0; p < f->pat->u.text.n_parts && f->stream_ok; p++) {
        const struct lql_pat_part *pp = &f->pat->u.text.parts[p];
        if (!pp->lit && scry_labels_get(ls, pp->name))
            f->stream_ok = false;
    }
    for (size_t k = 0; k < f->g->n; k++) {
        const char *v = f->src[k] < 0 ? scry_labels_get(ls, f->g->labels[k]) : NULL;
        f->sval[k] = v;
        f->slen[k] = v ? strlen(v) : 0;
    }
    return f->stream_ok;
}

static bool eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

void lql__fast_key(const struct lql_fast *f, const char *line, size_t len, struct scry_buf *key)
{
    const struct lql_pat_part *p = f->pat->u.text.parts;
    size_t n = f->pat->u.text.n_parts;
    const char *cs[FAST_MAX_PARTS];
    size_t cl[FAST_MAX_PARTS];
    for (size_t k = 0; k < f->g->n; k++)
        if (f->src[k] >= 0)
            cs[f->src[k]] = NULL;
    const char *s = line, *end = line + len;
    for (size_t i = 0; i < n; i++) {
        if (p[i].lit) {
            if ((size_t)(end - s) < p[i].len || !eq(s, p[i].lit, p[i].len))
                break;
            s += p[i].len;
            continue;
        }
        if (i + 1 == n) {
            cs[i] = s;
            cl[i] = (size_t)(end - s);
            break;
        }
        /* the next part is a literal (no two captures in a row): the
         * capture ends where it starts, and it is matched already */
        const char *lit = p[i + 1].lit, *ce;
        size_t m = p[i + 1].len;
        if (m == 1) {
            ce = memchr(s, lit[0], (size_t)(end - s));
        } else {
            ce = NULL;
            for (const char *q = s; m <= (size_t)(end - q);) {
                q = memchr(q, lit[0], (size_t)(end - q) - m + 1);
                if (!q)
                    break;
                if (eq(q + 1, lit + 1, m - 1)) {
                    ce = q;
                    break;
                }
                q++;
            }
        }
        if (!ce)
            break;
        cs[i] = s;
        cl[i] = (size_t)(ce - s);
        s = ce + m;
        i++;
    }
    /* the key: per `by` label a u32 length and the bytes */
    char buf[512];
    size_t at = 0;
    scry_buf_reset(key);
    for (size_t k = 0; k < f->g->n; k++) {
        const char *v = f->sval[k];
        uint32_t vl = (uint32_t)f->slen[k];
        if (f->src[k] >= 0) {
            v = cs[f->src[k]];
            vl = v ? (uint32_t)cl[f->src[k]] : 0;
        }
        if (at + sizeof vl + vl > sizeof buf) {
            scry_buf_put(key, buf, at);
            at = 0;
        }
        memcpy(buf + at, &vl, sizeof vl);
        at += sizeof vl;
        if (vl > sizeof buf - at) {
            scry_buf_put(key, buf, at);
            scry_buf_put(key, v, vl);
            at = 0;
        } else if (vl) {
            memcpy(buf + at, v, vl);
            at += vl;
        }
    }
    scry_buf_put(key, buf, at);
}
