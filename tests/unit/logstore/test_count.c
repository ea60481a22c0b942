/* Tests that counting a needle from the token index's line counts
 * (logstore/README.md "Counting from the index") equals a full scan: on
 * random corpora built to trip it — the needle inside longer words, in
 * upper and mixed case, twice in a line, inside long windowed words, in
 * key=value values, next to hex ids and number-like words — over several
 * segments plus the head, select_streams with the count_only hint
 * (counted stand-ins summed with the decoded matches) gives, for every
 * needle and random time window (chunks straddling its edges), exactly
 * the number of lines a scan finds with memmem. The counted path must
 * also be taken (stand-ins seen), and a segment without counts (as
 * written before LS_TOK_COUNTS; simulated in memory) must simply be
 * decoded: same answers, no stand-ins. Also: stream sets read at the same
 * time through the shared decode pool, and newest_limit parsing only the
 * chunks it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "logstore/ls_internal.h"
#include "logstore/logstore.h"
#include "logstore/tokenize.h"
#include "ls_fixture.h"

LS_TMPDIR_FIXTURE("lsc")

#define N_STREAMS 6
#define T0 1000000000000LL
#define STEP_NS (3LL * 1000000000LL) /* per entry: streams cut a chunk per hour */

static const char *const pieces[] = {
    "needle", "needles", "xneedle", "NEEDLE", "Needle", "neeDle", "needle needle", "solo",
    "SOLO", "Solo", "solo-solo", "solo_solo", "hay", "HAY", "stack", "abc", "abc123", "12345ms",
    "beef", "dead", "cafe1234", "k=needle", "path=/x/needle/y", "msg=\"solo needle\"",
    "v=solo", "ab", "ms", "x", "level=info", "GET", "haystack", "HayStack", "0solo0",
};
static const char *const needles[] = {
    "needle", "needles", "eedl", "solo", "hay", "stack", "abc", "abc123", "ms", "12345ms",
    "beef", "dead", "cafe1234", "zzz", "x", "a", "lo", "haystack", "info", "get", "0",
    "xneedle", "needleneedle",
};

/* A word of 65..140 alphanumerics, lower case unless upper, with `w` at a
 * random offset: indexed as windows. */
static size_t long_word(char *out, unsigned *seed, const char *w, bool upper)
{
    size_t n = 65 + (size_t)(rand_r(seed) % 76), wl = strlen(w);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((upper ? 'A' : 'a') + rand_r(seed) % 26);
    size_t at = (size_t)rand_r(seed) % (n - wl);
    memcpy(out + at, w, wl);
    out[n] = 0;
    return n;
}

static size_t make_line(char *line, size_t cap, unsigned *seed)
{
    size_t n = 0;
    int k = 2 + rand_r(seed) % 7;
    static const char seps[] = " ,;:/.-";
    for (int i = 0; i < k && n + 200 < cap; i++) {
        if (i)
            line[n++] = seps[rand_r(seed) % (sizeof seps - 1)];
        int r = rand_r(seed) % 40;
        if (r < 3) {
            n += long_word(line + n, seed, rand_r(seed) % 2 ? "needle" : "solo", r == 2);
        } else if (r < 5) {
            n += (size_t)snprintf(line + n, cap - n, "%08x%08x", (unsigned)rand_r(seed),
                                  (unsigned)rand_r(seed));
        } else {
            const char *p = pieces[rand_r(seed) % (sizeof pieces / sizeof *pieces)];
            n += (size_t)snprintf(line + n, cap - n, "%s", p);
        }
    }
    line[n] = 0;
    return n;
}

static void load(struct ls_store *st, unsigned *seed, int from, int to)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    char line[1024], sv[8];
    for (int k = from; k < to; k++) {
        snprintf(sv, sizeof sv, "s%d", k % N_STREAMS);
        struct scry_label v[1] = { { "stream", sv } };
        struct scry_labels ls = { v, 1 };
        size_t len = make_line(line, sizeof line, seed);
        struct scry_log_entry e = { .t_ns = T0 + (int64_t)k * STEP_NS, .line = { line, len } };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

struct tally {
    uint64_t lines, stand_ins;
};

/* Lines in [mint, maxt] containing needle: counting (count_only, the
 * stand-ins' weights plus decoded matches) or scanning every entry. */
static struct tally count(struct ls_store *st, const char *needle, int64_t mint, int64_t maxt,
                          bool counting)
{
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, mint, maxt, &q, NULL), 0);
    struct scry_str lit = { needle, strlen(needle) };
    struct scry_select_hints h = { .mint = mint, .maxt = maxt };
    if (counting) {
        h.line_contains = &lit;
        h.n_line_contains = 1;
        h.count_only = true;
    }
    struct scry_stream_set *ss;
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, NULL), 0);
    struct tally t = { 0 };
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            assert_true(e.t_ns >= mint && e.t_ns <= maxt);
            uint64_t w = it->ops->counted ? it->ops->counted(it) : 0;
            if (w) {
                assert_true(counting);
                assert_int_equal(e.line.len, 0);
                t.lines += w;
                t.stand_ins++;
            } else {
                t.lines += memmem(e.line.p, e.line.len, needle, strlen(needle)) != NULL;
            }
        }
        assert_int_equal(it->ops->err(it, NULL), 0);
    }
    assert_int_equal(ss->ops->err(ss, NULL), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    return t;
}

static void check_all(struct ls_store *st, unsigned *seed, int n_entries, uint64_t *stand_ins)
{
    int64_t last = T0 + (int64_t)n_entries * STEP_NS;
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++) {
        for (int w = 0; w < 6; w++) {
            int64_t mint = INT64_MIN, maxt = INT64_MAX;
            if (w) { /* random windows, edges anywhere (also inside chunks) */
                mint = T0 - STEP_NS + (int64_t)(rand_r(seed) % n_entries) * STEP_NS +
                       rand_r(seed) % STEP_NS;
                maxt = mint + (int64_t)(rand_r(seed) % (n_entries + 1)) * STEP_NS;
                if (maxt > last + STEP_NS)
                    maxt = last + STEP_NS;
            }
            struct tally c = count(st, needles[i], mint, maxt, true);
            struct tally s = count(st, needles[i], mint, maxt, false);
            if (c.lines != s.lines)
                fail_msg("needle %s window %d: counted %llu, scan %llu", needles[i], w,
                         (unsigned long long)c.lines, (unsigned long long)s.lines);
            assert_int_equal(s.stand_ins, 0);
            *stand_ins += c.stand_ins;
        }
    }
}

/* A store over an emptied scratch dir. */
static struct ls_store *open_empty(bool kv_values)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
    assert_int_equal(system(cmd), 0);
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER,
                         .index_kv_values = kv_values };
    struct ls_store *st = NULL;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err))
        fail_msg("ls_open: %s", err.msg);
    return st;
}

static void test_count_equals_scan(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 3; round++) {
        struct ls_store *st = open_empty(round == 1);
        struct scry_err err = { 0 };
        unsigned seed = 17 + round;
        int n = 6000;
        load(st, &seed, 0, 2500);
        assert_int_equal(ls_flush(st, &err), 0);
        load(st, &seed, 2500, 5000);
        assert_int_equal(ls_flush(st, &err), 0);
        load(st, &seed, 5000, n); /* stays in the head: scanned */
        uint64_t stand_ins = 0;
        check_all(st, &seed, n, &stand_ins);
        /* the index answered for some chunks: the test is not vacuous */
        assert_true(stand_ins > 0);
        if (round == 2) { /* segments without counts: everything decodes */
            for (size_t i = 0; i < st->n_segs; i++)
                st->segs[i]->counts = NULL;
            stand_ins = 0;
            check_all(st, &seed, n, &stand_ins);
            assert_int_equal(stand_ins, 0);
        }
        ls_close(st);
    }
}

/* The segment's per-chunk answer against decoding each chunk: every chunk
 * it counts holds exactly that many matching lines. */
static void test_line_counts_per_chunk(void **state)
{
    (void)state;
    struct ls_store *st = open_empty(false);
    struct scry_err err = { 0 };
    unsigned seed = 99;
    load(st, &seed, 0, 4000);
    assert_int_equal(ls_flush(st, &err), 0);
    assert_int_equal(st->n_segs, 1);
    struct ls_segment *s = st->segs[0];
    assert_true(s->tok_flags & LS_TOK_COUNTS);
    struct scry_arena *a = scry_arena_create(0);
    struct scry_buf dec = { 0 };
    size_t counted = 0, decode = 0;
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++) {
        const char *nd = needles[i];
        uint32_t *v = ls__segment_line_counts(s, nd, strlen(nd), a);
        assert_non_null(v); /* every needle here is a short lower-case word */
        for (uint32_t c = 0; c < s->n_chunks; c++) {
            if (v[c] == LS_COUNT_DECODE) {
                decode++;
                continue;
            }
            counted++;
            struct ls_chunk_src src = { 0 };
            assert_int_equal(ls__chunk_parse(s->map + s->chunks[c].off, s->chunks[c].len, &src,
                                             NULL), 0);
            src.n = s->chunks[c].n;
            src.mint = s->chunks[c].mint;
            src.maxt = s->chunks[c].maxt;
            const uint8_t *p;
            assert_int_equal(ls__chunk_payload(&src, &dec, &p, NULL), 0);
            struct scry_log_entry *e = scry_arena_alloc(a, src.n * sizeof *e);
            assert_true(ls__cols_get(src.codec, p, src.raw_len, src.n, src.mint, NULL, e));
            uint32_t m = 0;
            for (uint32_t k = 0; k < src.n; k++)
                m += memmem(e[k].line.p, e[k].line.len, nd, strlen(nd)) != NULL;
            if (m != v[c])
                fail_msg("needle %s chunk %u: index %u, lines %u", nd, c, v[c], m);
        }
    }
    assert_true(counted > 0 && decode > 0);
    /* not countable: upper case, non-alphanumeric, longer than 32 bytes */
    assert_null(ls__segment_line_counts(s, "Needle", 6, a));
    assert_null(ls__segment_line_counts(s, "k=needle", 8, a));
    assert_null(ls__segment_line_counts(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 33, a));
    scry_buf_fini(&dec);
    scry_arena_destroy(a);
    ls_close(st);
}

/* Stream sets read at the same time share the decode pool's two threads
 * (querier_decode.c): with more sets than threads, runs wait in the pool's
 * queue and the consumers decode unclaimed jobs themselves. Reading five
 * sets an entry at a time in turn (some also abandoning streams half-way,
 * as a log query's limit does), with and without counting, must give what
 * each gives read alone, and all in order. */
#define N_SETS 5
struct rd {
    struct scry_querier *q;
    struct scry_stream_set *ss;
    struct scry_entry_iter *it;
    struct tally t;
    int64_t last;
    bool done, abandon, backward;
    size_t in_stream;
};

static bool rd_step(struct rd *r, const char *needle)
{
    for (;;) {
        if (r->it) {
            bool cut = r->abandon && r->in_stream >= 40;
            if (!cut && r->it->ops->next(r->it)) {
                struct scry_log_entry e;
                r->it->ops->at(r->it, &e);
                assert_true(r->in_stream == 0 || (r->backward ? e.t_ns <= r->last : e.t_ns >= r->last));
                r->last = e.t_ns;
                r->in_stream++;
                uint64_t w = r->it->ops->counted ? r->it->ops->counted(r->it) : 0;
                r->t.lines += w ? w : memmem(e.line.p, e.line.len, needle, strlen(needle)) != NULL;
                r->t.stand_ins += w > 0;
                return true;
            }
            assert_int_equal(r->it->ops->err(r->it, NULL), 0);
            r->it = NULL;
        }
        if (!r->ss->ops->next(r->ss)) {
            assert_int_equal(r->ss->ops->err(r->ss, NULL), 0);
            return false;
        }
        r->it = r->ss->ops->entries(r->ss);
        r->in_stream = 0;
    }
}

static void test_concurrent_stream_sets(void **state)
{
    (void)state;
    struct ls_store *st = open_empty(false);
    struct scry_err err = { 0 };
    unsigned seed = 99;
    load(st, &seed, 0, 3000);
    assert_int_equal(ls_flush(st, &err), 0);
    load(st, &seed, 3000, 6000);
    assert_int_equal(ls_flush(st, &err), 0);
    /* a needle the index counts in some chunks (and not in others) */
    const char *needle = NULL;
    struct tally alone[2];
    for (size_t i = 0; i < sizeof needles / sizeof *needles && !needle; i++) {
        alone[0] = count(st, needles[i], INT64_MIN, INT64_MAX, false);
        alone[1] = count(st, needles[i], INT64_MIN, INT64_MAX, true);
        assert_int_equal(alone[0].lines, alone[1].lines);
        if (alone[1].stand_ins > 0)
            needle = needles[i];
    }
    assert_non_null(needle);
    struct scry_str lit = { needle, strlen(needle) };
    struct rd r[N_SETS] = { 0 };
    for (int i = 0; i < N_SETS; i++) {
        assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX,
                                                   &r[i].q, NULL), 0);
        struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX,
                                       .backward = i % 2 == 1 };
        if (i % 3 == 2) {
            h.line_contains = &lit;
            h.n_line_contains = 1;
            h.count_only = true;
        }
        r[i].abandon = i == 3;
        r[i].backward = h.backward;
        assert_int_equal(r[i].q->ops->select_streams(r[i].q, NULL, 0, &h, &r[i].ss, NULL), 0);
    }
    for (int left = N_SETS; left > 0;)
        for (int i = 0; i < N_SETS; i++)
            if (!r[i].done && !rd_step(&r[i], needle)) {
                r[i].done = true;
                left--;
            }
    for (int i = 0; i < N_SETS; i++) {
        if (i == 3)
            assert_true(r[i].t.lines < alone[0].lines); /* it stopped early in each stream */
        else
            assert_int_equal(r[i].t.lines, alone[i % 3 == 2].lines);
        assert_int_equal(r[i].t.stand_ins > 0, i % 3 == 2);
        r[i].ss->ops->close(r[i].ss);
        r[i].q->ops->close(r[i].q);
    }
    ls_close(st);
}

/* newest_limit parses (CRC-checks) only the chunks drop_older keeps: a
 * corrupt chunk older than the newest matches is never read (a scan
 * still reports it), a corrupt chunk among the kept ones is reported. */
static int select_rc(struct ls_store *st, const char *needle, uint64_t newest_limit)
{
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q,
                                               NULL), 0);
    struct scry_str lit = { needle, strlen(needle) };
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX, .backward = true,
                                   .newest_limit = newest_limit };
    if (newest_limit) {
        h.line_contains = &lit;
        h.n_line_contains = 1;
    }
    struct scry_stream_set *ss = NULL;
    struct scry_err err = { 0 };
    int rc = q->ops->select_streams(q, NULL, 0, &h, &ss, &err);
    if (rc == 0) {
        while (ss->ops->next(ss)) {
            struct scry_entry_iter *it = ss->ops->entries(ss);
            while (it->ops->next(it))
                ;
            if ((rc = it->ops->err(it, &err)) != 0)
                break;
        }
        ss->ops->close(ss);
    }
    q->ops->close(q);
    return rc;
}

static void flip_byte(const char *path, uint64_t off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ 0x5a, f), c ^ 0x5a);
    assert_int_equal(fclose(f), 0);
}

static void test_newest_limit_parses_kept_chunks(void **state)
{
    (void)state;
    struct ls_store *st = open_empty(false);
    struct scry_err err = { 0 };
    unsigned seed = 7;
    load(st, &seed, 0, 6000);
    assert_int_equal(ls_flush(st, &err), 0);
    assert_int_equal(st->n_segs, 1);
    /* a needle the index counts (so newest_limit drops old chunks) */
    const char *needle = NULL;
    for (size_t i = 0; i < sizeof needles / sizeof *needles && !needle; i++)
        if (count(st, needles[i], INT64_MIN, INT64_MAX, true).stand_ins > 0)
            needle = needles[i];
    assert_non_null(needle);
    const struct ls_segment *s = st->segs[0];
    char path[4096];
    snprintf(path, sizeof path, "%s", s->path);
    uint32_t oldest = 0, newest = 0;
    for (uint32_t c = 0; c < s->n_chunks; c++) {
        if (s->chunks[c].maxt < s->chunks[oldest].maxt)
            oldest = c;
        if (s->chunks[c].maxt > s->chunks[newest].maxt)
            newest = c;
    }
    uint64_t off_old = s->chunks[oldest].off + s->chunks[oldest].len / 2;
    uint64_t off_new = s->chunks[newest].off + s->chunks[newest].len / 2;
    assert_true(s->chunks[oldest].maxt < s->chunks[newest].mint); /* hours apart */
    assert_int_equal(select_rc(st, needle, 1), 0);
    ls_close(st);

    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    flip_byte(path, off_old);
    assert_int_equal(ls_open(&st, &o, &err), 0);
    assert_int_equal(select_rc(st, needle, 0), SCRY_ECORRUPT); /* a scan reads it */
    assert_int_equal(select_rc(st, needle, 1), 0);             /* never parsed */
    ls_close(st);

    flip_byte(path, off_new);
    assert_int_equal(ls_open(&st, &o, &err), 0);
    assert_int_equal(select_rc(st, needle, 1), SCRY_ECORRUPT); /* kept, so checked */
    ls_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_equals_scan),
        cmocka_unit_test(test_line_counts_per_chunk),
        cmocka_unit_test(test_concurrent_stream_sets),
        cmocka_unit_test(test_newest_limit_parses_kept_chunks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
