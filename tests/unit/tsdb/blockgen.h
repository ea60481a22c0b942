/* blockgen.h — synthetic series for the block tests: random label sets from
 * a small vocabulary (so matchers hit), random samples encoded in chunks
 * with tsdb_chunk_encode, a block source over them, and a naive model
 * query to compare against. Header-only; included by test_block.c,
 * test_index.c and test_compact.c. */
#ifndef SCRY_TESTS_BLOCKGEN_H
#define SCRY_TESTS_BLOCKGEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/labels.h"
#include "core/matcher.h"
#include "core/mem.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"

static uint64_t bg_state = 1;
static inline uint64_t bg_rnd(void)
{
    uint64_t z = (bg_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t bg_below(uint64_t n) { return n ? bg_rnd() % n : 0; }

#define BG_MAXL 6
struct bg_series {
    struct scry_label labs[BG_MAXL];
    size_t n_labs;
    int64_t *t;
    double *v;
    size_t n;
    uint8_t *bytes;
    struct tsdb_chunk_meta *cm;
    size_t n_cm;
};

struct bg_set {
    struct bg_series *s;
    size_t n;
    size_t pos; /* source cursor */
};

static const char *bg_names[] = {"__name__", "a_job", "cpu", "instance", "mode", "zz"};
static const char *bg_vals[] = {"m0", "m1", "m2", "m3", "x", "y", "idle", "user", "0", "1", "10", "2",
                                "host-1", "host-2", "host-3", "weird\nnl", "é", "aa", "ab", "b"};

static inline int bg_cmp(const void *a, const void *b)
{
    const struct bg_series *x = a, *y = b;
    struct scry_labels lx = {x->labs, x->n_labs}, ly = {y->labs, y->n_labs};
    return scry_labels_cmp(&lx, &ly);
}

/* Samples for one series in [mint, maxt], chunked by up to cut samples. */
static inline void bg_samples(struct bg_series *s, int64_t mint, int64_t maxt, size_t max_n, size_t cut)
{
    size_t n = 1 + bg_below(max_n);
    s->t = scry_malloc(n * sizeof *s->t);
    s->v = scry_malloc(n * sizeof *s->v);
    int64_t t = mint + (int64_t)bg_below((uint64_t)(maxt - mint) / 4 + 1);
    int64_t step = 1 + (int64_t)bg_below(30000);
    size_t k = 0;
    int kind = (int)bg_below(4);
    for (; k < n && t <= maxt; k++) {
        s->t[k] = t;
        double v = kind == 0 ? 1.0 : kind == 1 ? (double)(k * 3 + bg_below(2))
                 : kind == 2 ? (double)bg_below(1000) / 100.0 : (double)bg_rnd() / 7.0;
        if (bg_below(50) == 0)
            v = NAN;
        s->v[k] = v;
        t += bg_below(10) == 0 ? 1 + (int64_t)bg_below(100000) : step;
    }
    s->n = k;
    size_t n_cm = (k + cut - 1) / cut;
    s->cm = scry_calloc(n_cm + 1, sizeof *s->cm);
    s->bytes = scry_malloc(n_cm * tsdb_chunk_max_len(cut) + 1);
    size_t off = 0;
    for (size_t i = 0; i < k; i += cut) {
        size_t m = k - i < cut ? k - i : cut, len;
        struct scry_err err;
        if (tsdb_chunk_encode(s->t + i, s->v + i, m, TSDB_VENC_AUTO, s->bytes + off,
                              tsdb_chunk_max_len(m), &len, &err))
            abort();
        s->cm[s->n_cm++] = (struct tsdb_chunk_meta){s->t[i], s->t[i + m - 1], (uint32_t)m,
                                                     s->bytes + off, (uint32_t)len};
        off += len;
    }
}

/* n random distinct series, sorted, with samples in [mint, maxt]. */
static inline void bg_make(struct bg_set *set, uint64_t seed, size_t n, int64_t mint, int64_t maxt,
                    size_t max_samples, size_t cut)
{
    bg_state = seed;
    set->s = scry_calloc(n + 1, sizeof *set->s);
    set->n = 0;
    set->pos = 0;
    for (size_t i = 0; i < n; i++) {
        struct bg_series *s = &set->s[set->n];
        for (size_t k = 0; k < BG_MAXL; k++) {
            if (k > 0 && bg_below(3) == 0)
                continue;
            s->labs[s->n_labs++] = (struct scry_label){
                bg_names[k], bg_vals[bg_below(sizeof bg_vals / sizeof *bg_vals)]};
        }
        bool dup = false;
        for (size_t j = 0; j < set->n && !dup; j++)
            dup = bg_cmp(&set->s[j], s) == 0;
        if (dup) {
            memset(s, 0, sizeof *s);
            continue;
        }
        bg_samples(s, mint, maxt, max_samples, cut);
        set->n++;
    }
    qsort(set->s, set->n, sizeof *set->s, bg_cmp);
}

static inline void bg_free(struct bg_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->s[i].t);
        free(set->s[i].v);
        free(set->s[i].bytes);
        free(set->s[i].cm);
    }
    free(set->s);
    memset(set, 0, sizeof *set);
}

static inline int bg_next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    (void)err;
    struct bg_set *set = ud;
    if (set->pos >= set->n)
        return 0;
    struct bg_series *s = &set->s[set->pos++];
    *out = (struct tsdb_block_series){.ls = {s->labs, s->n_labs}, .chunks = s->cm, .n_chunks = s->n_cm};
    return 1;
}

static const struct tsdb_block_source bg_source = {.next = bg_next};

static inline bool bg_same_double(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    return x == y;
}

/* A random matcher over the vocabulary. */
static inline void bg_matcher(struct scry_matcher *m)
{
    static const char *res[] = {"m.*", ".*", "host-[12]", "", ".+", "1|10", "x|y|idle", "a.", "é"};
    const char *name = bg_names[bg_below(sizeof bg_names / sizeof *bg_names)];
    if (bg_below(8) == 0)
        name = "absent_label";
    int type = (int)bg_below(4);
    const char *v = type < 2 ? (bg_below(6) == 0 ? "" : bg_vals[bg_below(sizeof bg_vals / sizeof *bg_vals)])
                             : res[bg_below(sizeof res / sizeof *res)];
    struct scry_err err;
    if (scry_matcher_init(m, (enum scry_match_type)type, name, v, &err))
        abort();
}

#endif
