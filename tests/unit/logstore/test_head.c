/* Tests logstore/head.c's open chunks and cuts: entries appended to a few
 * interleaved streams, with lines from empty to larger than a slab region
 * (2 MiB) and larger than the open buffer kept across cuts (1 MiB), come back
 * exactly from the cut chunks (in the head's slab) and the open chunk, in
 * order, with each chunk's n, mint, maxt and raw_len right; chunks are cut
 * at LS_CHUNK_CUT_BYTES and at LS_CHUNK_MAX_SPAN_NS; a cut of an empty open
 * chunk is a no-op; and everything is released by ls__head_fini (ASan/LSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "logstore/ls_internal.h"
#include "tests/unit/xorshift.h"

#define N_STREAMS 3
#define N_ENTRIES 40000

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { return test_xorshift(&rng); }

struct want {
    int64_t t;
    size_t len;
    unsigned seed; /* the line is fill(seed, len) */
};

static void fill(char *p, unsigned seed, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + (seed + i * 7) % 26);
}

/* Decodes n entries of raw chunk bytes and checks them against w[*k...]. */
static void check_raw(const uint8_t *p, size_t len, uint32_t n, int64_t prev,
                      const struct want *w, size_t *k, char *scratch)
{
    struct ls_rd r = { p, p + len, false };
    for (uint32_t i = 0; i < n; i++) {
        struct scry_log_entry e;
        assert_true(ls__entry_get(&r, prev, NULL, &e));
        const struct want *x = &w[(*k)++];
        assert_int_equal(e.t_ns, x->t);
        assert_int_equal(e.line.len, x->len);
        fill(scratch, x->seed, x->len);
        assert_memory_equal(e.line.p, scratch, x->len);
        prev = e.t_ns;
    }
    assert_ptr_equal(r.p, p + len); /* nothing after the n entries */
}

static void test_head_cut_chunks_round_trip(void **state)
{
    (void)state;
    struct ls_head h;
    ls__head_init(&h, 1);
    struct ls_stream *s[N_STREAMS];
    static const char *apps[N_STREAMS] = { "a", "b", "c" };
    for (int i = 0; i < N_STREAMS; i++) {
        struct scry_label v = { "app", apps[i] };
        s[i] = ls__head_create(&h, &(struct scry_labels){ &v, 1 }, 0);
    }
    struct want *w[N_STREAMS];
    size_t n_w[N_STREAMS] = { 0 };
    for (int i = 0; i < N_STREAMS; i++)
        w[i] = calloc(N_ENTRIES, sizeof *w[i]);
    size_t max_line = 3u << 20; /* over a slab region and over the kept buffer */
    char *line = malloc(max_line), *scratch = malloc(max_line);
    int64_t t[N_STREAMS] = { 1000, 1000, 1000 };
    for (int k = 0; k < N_ENTRIES; k++) {
        int i = (int)(rnd() % N_STREAMS);
        uint64_t r = rnd();
        size_t len = r % 64 == 0 ? 0 : 20 + (size_t)(r >> 8) % 400;
        if (k == 1000 || k == 30000)
            len = max_line; /* one huge line: a chunk of its own */
        if (k == 20000)
            len = (1u << 20) + 100; /* the open buffer grows past what a cut keeps */
        int64_t dt = r % 500 == 1 ? LS_CHUNK_MAX_SPAN_NS + 1 : (int64_t)(r >> 40) % 3;
        t[i] += dt;
        unsigned seed = (unsigned)(r >> 16);
        fill(line, seed, len);
        struct scry_log_entry e = { .t_ns = t[i], .line = { line, len } };
        int rc = ls__head_append(&h, s[i], &e);
        if (rc == 1)
            continue; /* same t and line as the newest: a duplicate */
        assert_int_equal(rc, 0);
        w[i][n_w[i]++] = (struct want){ t[i], len, seed };
    }
    ls__head_cut(s[0]); /* a cut by hand (the flush does this) */
    ls__head_cut(s[0]); /* and again on an empty open chunk: nothing */
    assert_int_equal(s[0]->open_n, 0);
    size_t total_chunks = 0;
    for (int i = 0; i < N_STREAMS; i++) {
        size_t k = 0;
        int64_t prev_maxt = INT64_MIN;
        for (size_t c = 0; c < s[i]->n_chunks; c++) {
            const struct ls_hchunk *ch = &s[i]->chunks[c];
            assert_true(ch->n > 0);
            assert_int_equal(ch->comp_len, ch->raw_len);
            assert_true(ch->mint >= prev_maxt && ch->mint <= ch->maxt);
            assert_int_equal(ch->mint, w[i][k].t);
            assert_int_equal(ch->maxt, w[i][k + ch->n - 1].t);
            /* Cut at the size, or at the span before an entry too far on. */
            if (c + 1 < s[i]->n_chunks && ch->raw_len < LS_CHUNK_CUT_BYTES)
                assert_true(w[i][k + ch->n].t - ch->mint > LS_CHUNK_MAX_SPAN_NS);
            check_raw(ch->bytes, ch->raw_len, ch->n, ch->mint, w[i], &k, scratch);
            prev_maxt = ch->maxt;
        }
        if (s[i]->open_n)
            check_raw((const uint8_t *)s[i]->open.p, s[i]->open.len, s[i]->open_n,
                      s[i]->open_mint, w[i], &k, scratch);
        assert_int_equal(k, n_w[i]);
        total_chunks += s[i]->n_chunks;
    }
    /* Enough data to cut many chunks and to need several slab regions. */
    assert_true(total_chunks > 20);
    assert_true(h.raw_bytes > (8u << 20));
    ls__head_fini(&h);
    for (int i = 0; i < N_STREAMS; i++)
        free(w[i]);
    free(line);
    free(scratch);
}

/* A head with streams but no entries, and an empty head, free cleanly. */
static void test_head_fini_without_chunks(void **state)
{
    (void)state;
    struct ls_head h;
    ls__head_init(&h, 1);
    ls__head_fini(&h);
    ls__head_init(&h, 7);
    struct scry_label v = { "app", "x" };
    struct ls_stream *s = ls__head_create(&h, &(struct scry_labels){ &v, 1 }, 0);
    assert_int_equal(s->ref, 7);
    ls__head_cut(s);
    assert_int_equal(s->n_chunks, 0);
    ls__head_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_cut_chunks_round_trip),
        cmocka_unit_test(test_head_fini_without_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
