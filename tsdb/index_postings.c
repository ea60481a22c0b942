/* index_postings.c — postings of an on-disk block: decoding lists and
 * combining them for a selector. (The head's in-memory postings are
 * tsdb/postings.c; these work on sorted u32 arrays of series numbers.)
 *
 * Every matcher becomes one set the same way: with V the values of its
 * label name, a matcher that does not match "" selects the union of the
 * lists of the values it matches; one that matches "" (the label may be
 * absent) selects everything except the union of the values it rejects.
 * That covers =, !=, =~ and !~ with Prometheus's empty-value rules in one
 * rule. Positive sets are intersected smallest first, then the negative
 * ones are subtracted; only when every matcher is negative do we start
 * from all series. */
#include <inttypes.h>
#include <stdlib.h>

#include "core/matcher.h"
#include "core/mem.h"
#include "tsdb/block_internal.h"

void tsdb__plist_fini(struct tsdb__plist *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void reserve(struct tsdb__plist *l, size_t extra)
{
    if (l->n + extra > l->cap) {
        l->cap = (l->n + extra) * 2 + 16;
        l->v = scry_realloc(l->v, l->cap * sizeof *l->v);
    }
}

int tsdb__postings_read(const struct tsdb_block *b, uint64_t pi, struct tsdb__plist *out,
                        struct scry_buf *scratch, struct scry_err *err)
{
    assert(pi < b->n_pairs);
    const struct tsdb__pair *pr = &b->pairs[pi];
    const uint8_t *raw;
    size_t raw_len;
    if (tsdb__blob_get(b->idx + pr->list_off, pr->list_len, scratch, &raw, &raw_len, err))
        goto bad;
    struct tsdb__rd r = {raw, raw + raw_len, false};
    uint64_t n = tsdb__rd_uvarint(&r);
    if (r.bad || n != pr->n_series)
        goto bad;
    reserve(out, (size_t)n);
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t d = tsdb__rd_uvarint_max(&r, b->n_series);
        x = i ? x + 1 + d : d;
        if (r.bad || x >= b->n_series)
            goto bad;
        out->v[out->n++] = (uint32_t)x;
    }
    if (r.p != r.end)
        goto bad;
    return 0;
bad:
    scry_err_set(err, SCRY_ECORRUPT, "%s: postings list %" PRIu64 " is corrupt at offset %" PRIu64,
                 b->index_path, pi, pr->list_off);
    if (err)
        err->offset = (size_t)pr->list_off;
    return SCRY_ECORRUPT;
}

void tsdb__plist_intersect(const struct tsdb__plist *a, const struct tsdb__plist *b,
                           struct tsdb__plist *out)
{
    out->n = 0;
    reserve(out, a->n < b->n ? a->n : b->n);
    size_t i = 0, j = 0;
    /* Gallop through the longer list when sizes differ a lot (a 10k list
     * against a 1M one): binary search instead of a linear merge. */
    if (a->n * 16 < b->n || b->n * 16 < a->n) {
        const struct tsdb__plist *s = a->n < b->n ? a : b, *l = a->n < b->n ? b : a;
        for (i = 0; i < s->n; i++) {
            uint32_t x = s->v[i];
            size_t step = 1, lo = j, hi = j;
            while (hi < l->n && l->v[hi] < x) {
                lo = hi;
                hi += step;
                step *= 2;
            }
            if (hi > l->n)
                hi = l->n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (l->v[mid] < x)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            j = lo;
            if (j < l->n && l->v[j] == x)
                out->v[out->n++] = x;
        }
        return;
    }
    while (i < a->n && j < b->n) {
        if (a->v[i] < b->v[j])
            i++;
        else if (a->v[i] > b->v[j])
            j++;
        else {
            out->v[out->n++] = a->v[i];
            i++;
            j++;
        }
    }
}

void tsdb__plist_union(const struct tsdb__plist *a, const struct tsdb__plist *b,
                       struct tsdb__plist *out)
{
    out->n = 0;
    reserve(out, a->n + b->n);
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        uint32_t x;
        if (j >= b->n || (i < a->n && a->v[i] < b->v[j]))
            x = a->v[i++];
        else if (i >= a->n || b->v[j] < a->v[i])
            x = b->v[j++];
        else {
            x = a->v[i++];
            j++;
        }
        out->v[out->n++] = x;
    }
}

void tsdb__plist_subtract(const struct tsdb__plist *a, const struct tsdb__plist *b,
                          struct tsdb__plist *out)
{
    out->n = 0;
    reserve(out, a->n);
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->v[j] < a->v[i])
            j++;
        if (j < b->n && b->v[j] == a->v[i])
            continue;
        out->v[out->n++] = a->v[i];
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void tsdb__plist_sort_unique(struct tsdb__plist *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_u32);
    size_t m = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i] != l->v[m - 1])
            l->v[m++] = l->v[i];
    l->n = m;
}

/* The set of one matcher: *neg tells whether out is the complement. */
static int matcher_set(const struct tsdb_block *b, const struct scry_matcher *m,
                       struct tsdb__plist *out, bool *neg, struct scry_buf *scratch,
                       struct scry_err *err)
{
    out->n = 0;
    *neg = scry_matcher_matches(m, "", 0);
    int64_t ns = tsdb__sym_find(b, m->name);
    const struct tsdb__name *nm = ns >= 0 ? tsdb__name_find(b, (uint32_t)ns) : NULL;
    if (!nm)
        return 0; /* the label is absent everywhere: all ("" matches) or nothing */
    size_t n_lists = 0;
    if (m->type == SCRY_MATCH_EQ || m->type == SCRY_MATCH_NEQ) {
        /* One value at most: binary search instead of testing every value. */
        int64_t vs = m->value[0] ? tsdb__sym_find(b, m->value) : -1;
        for (size_t lo = nm->first_pair, hi = lo + nm->n_pairs; vs >= 0 && lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (b->pairs[mid].value_sym == (uint32_t)vs) {
                n_lists++;
                int rc = tsdb__postings_read(b, mid, out, scratch, err);
                if (rc)
                    return rc;
                break;
            }
            if (b->pairs[mid].value_sym < (uint32_t)vs)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!m->value[0]) /* ="" or !="": the lists of every value */
            for (uint32_t k = 0; k < nm->n_pairs; k++, n_lists++) {
                int rc = tsdb__postings_read(b, nm->first_pair + k, out, scratch, err);
                if (rc)
                    return rc;
            }
    } else {
        for (uint32_t k = 0; k < nm->n_pairs; k++) {
            const char *v = b->sym[b->pairs[nm->first_pair + k].value_sym];
            size_t vl = b->sym_len[b->pairs[nm->first_pair + k].value_sym];
            /* Positive: values that match; negative: values that do not. */
            if (scry_matcher_matches(m, v, vl) == *neg)
                continue;
            n_lists++;
            int rc = tsdb__postings_read(b, nm->first_pair + k, out, scratch, err);
            if (rc)
                return rc;
        }
    }
    if (n_lists > 1)
        tsdb__plist_sort_unique(out);
    return 0;
}

int tsdb__select_postings(const struct tsdb_block *b, const struct scry_matcher *ms, size_t n_ms,
                          struct tsdb__plist *out, struct scry_err *err)
{
    struct tsdb__plist *sets = scry_calloc(n_ms + 1, sizeof *sets);
    bool *neg = scry_calloc(n_ms + 1, sizeof *neg);
    bool *used = scry_calloc(n_ms + 1, sizeof *used);
    struct tsdb__plist tmp = {0};
    struct scry_buf scratch = {0};
    int rc = 0;
    out->n = 0;
    for (size_t i = 0; i < n_ms && !rc; i++)
        rc = matcher_set(b, &ms[i], &sets[i], &neg[i], &scratch, err);
    if (rc)
        goto out;
    /* Intersect the positive sets, smallest first. */
    bool have = false;
    for (;;) {
        size_t best = n_ms;
        for (size_t i = 0; i < n_ms; i++)
            if (!neg[i] && !used[i] && (best == n_ms || sets[i].n < sets[best].n))
                best = i;
        if (best == n_ms)
            break;
        if (!have) {
            reserve(out, sets[best].n);
            memcpy(out->v, sets[best].v, sets[best].n * sizeof *out->v);
            out->n = sets[best].n;
            have = true;
        } else {
            tsdb__plist_intersect(out, &sets[best], &tmp);
            struct tsdb__plist t = *out;
            *out = tmp;
            tmp = t;
        }
        used[best] = true;
    }
    if (!have) {
        reserve(out, (size_t)b->n_series);
        for (uint64_t i = 0; i < b->n_series; i++)
            out->v[i] = (uint32_t)i;
        out->n = (size_t)b->n_series;
    }
    for (size_t i = 0; i < n_ms && out->n; i++) {
        if (!neg[i] || !sets[i].n)
            continue;
        tsdb__plist_subtract(out, &sets[i], &tmp);
        struct tsdb__plist t = *out;
        *out = tmp;
        tmp = t;
    }
out:
    for (size_t i = 0; i < n_ms; i++)
        free(sets[i].v);
    free(sets);
    free(neg);
    free(used);
    tsdb__plist_fini(&tmp);
    scry_buf_fini(&scratch);
    return rc;
}
