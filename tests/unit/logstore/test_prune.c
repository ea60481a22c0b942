/* Tests that token pruning is exact on id-heavy lines (logstore/README.md
 * "Token index"): on random corpora of trace/span ids, uuids, long hex
 * strings, numbers, timestamps, durations and user ids, select_streams with
 * the needle's words as required_tokens, filtered by the needle, returns
 * exactly what a full scan filtered by the needle returns, for needles that
 * are whole ids, pieces of ids at any offset, numbers, pieces of numbers,
 * upper-case ids and words. Also: a planted trace id resolves through the
 * index to exactly its chunk, and key=value values resolve when keyed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/crc32c.h"
#include "logstore/ls_internal.h"
#include "logstore/logstore.h"
#include "logstore/tokenize.h"
#include "ls_fixture.h"

LS_TMPDIR_FIXTURE("lsp")

static struct ls_store *open_store(bool values)
{
    struct ls_opts o = { .data_dir = dir, .wal_fsync = SCRY_WAL_FSYNC_NEVER,
                         .index_kv_values = values };
    struct ls_store *st = NULL;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err))
        fail_msg("ls_open: %s", err.msg);
    return st;
}

#define N_STREAMS 12
#define TRACE "0af7651916cd43dd8448eb211c80319c"

static void hex(char *out, unsigned *seed, int n, bool upper)
{
    static const char d[] = "0123456789abcdef", u[] = "0123456789ABCDEF";
    for (int i = 0; i < n; i++)
        out[i] = (upper ? u : d)[rand_r(seed) % 16];
    out[n] = 0;
}

/* One line of a random shape; every 97th carries the planted trace id. */
static size_t make_line(char *line, size_t cap, unsigned *seed, int k)
{
    char a[80], b[40], c[40];
    hex(a, seed, 32, false);
    hex(b, seed, 16, rand_r(seed) % 7 == 0);
    hex(c, seed, 12, false);
    int shape = rand_r(seed) % 5;
    size_t n = 0;
    switch (shape) {
    case 0:
        n = (size_t)snprintf(line, cap, "ts=2026-11-24T00:00:%02d.%06uZ level=info msg=\"request "
                             "completed\" duration=%u.%06ums user_id=u%07u request_id=%.8s-%.4s-"
                             "%.4s-%.4s-%s trace_id=%s",
                             rand_r(seed) % 60, rand_r(seed) % 1000000, rand_r(seed) % 900,
                             rand_r(seed) % 1000000, rand_r(seed) % 10000000, a, a + 8, a + 12,
                             a + 16, c, k % 97 == 5 ? TRACE : a);
        break;
    case 1:
        n = (size_t)snprintf(line, cap, "{\"trace_id\":\"%s\",\"span_id\":\"%s\",\"order\":%u}",
                             a, b, rand_r(seed) % 100000000);
        break;
    case 2: {
        char l[80];
        hex(l, seed, 70, false); /* a windowed hex id */
        n = (size_t)snprintf(line, cap, "GET /api/v1/orders/%u HTTP/1.1 200 %u sha=%s",
                             rand_r(seed) % 10000000, rand_r(seed) % 100000, l);
        break;
    }
    case 3:
        n = (size_t)snprintf(line, cap, "x%sy deadbeef%u %s", b, rand_r(seed) % 1000, c);
        break;
    default: /* + a word sharing 60 bytes with its neighbours: front coding expands it */
        n = (size_t)snprintf(line, cap, "plain words only %s %.60s%c%c%c",
                             k % 211 == 7 ? "zqx1e3needle" : "",
                             "wxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyz",
                             'g' + rand_r(seed) % 20, 'g' + rand_r(seed) % 20,
                             'g' + rand_r(seed) % 20);
    }
    return n < cap ? n : cap - 1;
}

static void load(struct ls_store *st, unsigned seed, int n)
{
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    char line[512], sv[N_STREAMS][8];
    for (int k = 0; k < n; k++) {
        int s = k % N_STREAMS;
        snprintf(sv[s], sizeof sv[s], "s%d", s);
        struct scry_label v[1] = { { "stream", sv[s] } };
        struct scry_labels ls = { v, 1 };
        size_t len = make_line(line, sizeof line, &seed, k);
        struct scry_log_entry e = { .t_ns = 1000000000LL + (int64_t)k * 1000, .line = { line, len } };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
}

struct words {
    struct scry_str v[32];
    char buf[32][LS_TOKEN_MAX];
    size_t n;
};
static void add_word(void *ud, const char *t, size_t len)
{
    struct words *w = ud;
    if (w->n < 32) {
        memcpy(w->buf[w->n], t, len);
        w->v[w->n] = (struct scry_str){ w->buf[w->n], len };
        w->n++;
    }
}

/* Lines containing needle (case-sensitive), with or without pruning. */
static size_t count2(struct ls_store *st, const char *needle, bool prune, size_t *streams)
{
    struct words w = { .n = 0 };
    if (prune)
        ls_tokenize_words(needle, strlen(needle), add_word, &w);
    struct scry_querier *q;
    assert_int_equal(ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q,
                                               NULL), 0);
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX,
                                   .required_tokens = w.v, .n_required_tokens = w.n };
    struct scry_stream_set *ss;
    assert_int_equal(q->ops->select_streams(q, NULL, 0, &h, &ss, NULL), 0);
    size_t n = 0, n_streams = 0;
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        size_t before = n;
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            n += memmem(e.line.p, e.line.len, needle, strlen(needle)) != NULL;
        }
        n_streams += n > before;
    }
    assert_int_equal(ss->ops->err(ss, NULL), 0);
    ss->ops->close(ss);
    q->ops->close(q);
    if (streams)
        *streams = n_streams;
    return n;
}

static size_t count(struct ls_store *st, const char *needle, bool prune)
{
    return count2(st, needle, prune, NULL);
}

/* Needles taken from the corpus itself: a line's ids, and pieces of them. */
static void needles_from(struct ls_store *st, unsigned seed, int k, char out[][96], size_t *n)
{
    (void)st;
    char line[512];
    for (int i = 0; i <= k; i++)
        make_line(line, sizeof line, &seed, i);
    const char *u = strstr(line, "request_id=");
    if (u) /* a whole uuid */
        snprintf(out[(*n)++], 96, "%.36s", u + 11);
    /* Every run of >= 5 hex/digit bytes of the line, and pieces of it. */
    for (const char *p = line; *p && *n < 40;) {
        size_t l = strspn(p, "0123456789abcdefABCDEF");
        if (l >= 5) {
            snprintf(out[(*n)++], 96, "%.*s", (int)l, p);                   /* whole */
            if (l > 20)
                snprintf(out[(*n)++], 96, "%.*s", (int)(l - 7), p + 3);     /* inner */
            if (l >= 34)
                snprintf(out[(*n)++], 96, "%.*s", 32, p + l - 33);         /* 32 inside */
            snprintf(out[(*n)++], 96, "%.*s", (int)(l < 9 ? l - 1 : 9), p + 1); /* short */
        }
        p += l ? l : 1;
    }
}

static void test_prune_ids_equal_scan(void **state)
{
    (void)state;
    static const char *fixed[] = {
        TRACE, "0AF7651916CD43DD8448EB211C80319C", "f7651916cd43dd8448eb211c80319",
        "0af7651916cd43dd", "zqx1e3needle", "needle", "ms", "z level", "123", "00",
        "request completed", "u00", "deadbeef", "HTTP/1.1 200", "ffffffffffffffffffff",
        "span_id", ":00.", "nothere", "2026-11-24T00:00:0", "yzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzwh",
    };
    for (unsigned round = 0; round < 3; round++) {
        struct ls_store *st = open_store(round == 1);
        load(st, 11 + round, 3000);
        if (round < 2)
            assert_int_equal(ls_flush(st, NULL), 0);
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
            size_t a = count(st, fixed[i], false), b = count(st, fixed[i], true);
            if (a != b)
                fail_msg("round %u needle %s: scan %zu, pruned %zu", round, fixed[i], a, b);
        }
        char nd[64][96];
        for (int k = 0; k < 40; k += 3) {
            size_t n = 0;
            needles_from(st, 11 + round, k * 37, nd, &n);
            for (size_t i = 0; i < n; i++) {
                size_t a = count(st, nd[i], false), b = count(st, nd[i], true);
                if (a != b || a == 0)
                    fail_msg("round %u needle %s: scan %zu, pruned %zu", round, nd[i], a, b);
            }
        }
        ls_close(st);
        teardown(NULL);
        setup(NULL);
    }
}

/* The planted trace id: an index hit on exactly the chunks that hold it. */
static void test_prune_trace_id_hits_its_chunks(void **state)
{
    (void)state;
    struct ls_store *st = open_store(true);
    load(st, 5, 4000);
    assert_int_equal(ls_flush(st, NULL), 0);
    struct ls_segment *s = st->segs[0];
    assert_int_equal(s->n_chunks, N_STREAMS);
    struct words w = { .n = 0 };
    ls_tokenize_words(TRACE, strlen(TRACE), add_word, &w);
    struct scry_arena *a = scry_arena_create(0);
    uint64_t *ids;
    size_t n;
    assert_int_equal(ls__segment_token_chunks(s, w.v, w.n, a, &ids, &n, NULL), 0);
    /* One chunk per stream here: the chunks are the streams that hold it, and
     * a fingerprint collision (p ~ 2^-8 per probe) could add one. */
    size_t holders;
    assert_true(count2(st, TRACE, false, &holders) >= 1);
    assert_true(n >= holders && n <= holders + 1 && n < N_STREAMS);
    /* A key=value value: keyed, so found exactly (a superset, never a miss). */
    assert_int_equal(ls__segment_value_chunks(s, "request completed", 17, a, &ids, &n), 0);
    assert_true(n >= 1 && n <= N_STREAMS);
    assert_int_equal(ls__segment_value_chunks(s, "no such value", 13, a, &ids, &n), 0);
    assert_true(n <= 1); /* a fingerprint collision at most */
    scry_arena_destroy(a);
    ls_close(st);
}

/* Many chunks sharing every word: postings of all ones, a dictionary that
 * compresses far beyond any fixed ratio, and must still open. */
static void test_prune_dictionary_of_dense_postings(void **state)
{
    (void)state;
    struct ls_store *st = open_store(false);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    static const char line[] = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
                               "nu xi omicron pi rho sigma tau upsilon";
    for (int i = 0; i < 3000; i++) {
        char v[16];
        snprintf(v, sizeof v, "s%d", i);
        struct scry_label l[1] = { { "stream", v } };
        struct scry_labels ls = { l, 1 };
        struct scry_log_entry e = { .t_ns = 1000 + i, .line = { line, sizeof line - 1 } };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    struct scry_err err = { 0 };
    if (ls_flush(st, &err) != 0)
        fail_msg("flush: %s", err.msg);
    assert_int_equal(count(st, "omicron", true), 3000);
    ls_close(st);
    st = open_store(false);
    assert_int_equal(count(st, "upsilon", true), 3000);
    ls_close(st);
}

/* Words that share their first 8 bytes, or are 7, 8 and 9 bytes of one
 * prefix, spread over chunks in different mixes: the segment writer's
 * per-chunk word set settles words of <= 8 bytes by one integer compare and
 * longer ones by their bytes, so each must still land in exactly its own
 * chunks (pruned counts equal the scan's). */
static void test_prune_words_sharing_prefixes(void **state)
{
    (void)state;
    static const char *const words[] = {
        "abcdefg", "abcdefgh", "abcdefghx", "abcdefghy", "abcdefghxyzwords", "abcdefghxyzwordt",
        "Abcdefgh", "qrstuvwxyzqrstuvwxyzqrstuvwxyzqrstuvwxyzqrstuvwxyzqrstuvwxyzqrstuvwxyz1",
    };
    enum { N_WORDS = sizeof words / sizeof *words };
    struct ls_store *st = open_store(false);
    struct scry_appender *app;
    assert_int_equal(scry_appender_begin(ls_appendable(st), NULL, &app, NULL), 0);
    char line[256];
    for (int k = 0; k < 6000; k++) {
        int s = k % 6;
        char v[16];
        snprintf(v, sizeof v, "s%d", s);
        struct scry_label l[1] = { { "stream", v } };
        struct scry_labels ls = { l, 1 };
        /* Stream s holds the words whose bit is set in its mask, a line
         * one of them: every mix of neighbours shows up in some chunk. */
        unsigned mask = (unsigned)(0x5bu * (s + 1)) | 1u << (s % N_WORDS);
        int w = (k / 6) % N_WORDS;
        while (!(mask & 1u << w))
            w = (w + 1) % N_WORDS;
        int n = snprintf(line, sizeof line, "line %d word %s end", k, words[w]);
        struct scry_log_entry e = { .t_ns = 1000 + k, .line = { line, (size_t)n } };
        assert_int_equal(scry_append_log(app, NULL, &ls, &e, NULL), 0);
    }
    assert_int_equal(scry_appender_commit(app, NULL), 0);
    struct scry_err err = { 0 };
    if (ls_flush(st, &err) != 0)
        fail_msg("flush: %s", err.msg);
    for (int i = 0; i < N_WORDS; i++) {
        size_t scan = count(st, words[i], false);
        assert_true(scan > 0);
        assert_int_equal(count(st, words[i], true), scan);
    }
    assert_int_equal(count(st, "abcdefghz", true), 0);
    ls_close(st);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Byte flips inside the index sections with their CRCs made right again, so
 * the parsers behind the CRCs (stream index, dictionary, fingerprints) see
 * them: open fails with SCRY_ECORRUPT or opens, and lookups then answer. */
static void test_prune_damage_behind_crcs(void **state)
{
    (void)state;
    struct ls_store *st = open_store(true);
    load(st, 9, 1500);
    assert_int_equal(ls_flush(st, NULL), 0);
    struct ls_segment *seg = st->segs[0];
    size_t len = seg->len;
    uint8_t *img = malloc(len), *m = malloc(len);
    memcpy(img, seg->map, len);
    ls_close(st);
    const uint8_t *toc = img + len - LS_TOC_BYTES;
    uint64_t off[4] = { ls__le64(toc + LS_TOC_STREAMS_OFF), ls__le64(toc + LS_TOC_LABELS_OFF),
                        ls__le64(toc + LS_TOC_TOKENS_OFF), len - LS_TOC_BYTES };
    unsigned seed = 3;
    int opened = 0, refused = 0;
    static const char *needles[] = { "zqx1e3needle", TRACE, "12345", "476362z", "plain" };
    for (int round = 0; round < 3000; round++) {
        memcpy(m, img, len);
        int sec = rand_r(&seed) % 3;
        uint64_t a = off[sec], b = off[sec + 1] - 4;
        for (int k = 0; k < 1 + round % 3; k++) {
            uint8_t bit = (uint8_t)(1u << (rand_r(&seed) % 8));
            m[a + (uint64_t)rand_r(&seed) % (b - a)] ^= rand_r(&seed) % 4 ? bit : 0xff;
        }
        for (int i = 0; i < 3; i++)
            put32(m + off[i + 1] - 4, scry_crc32c(0, m + off[i], off[i + 1] - 4 - off[i]));
        struct ls_segment *s = NULL;
        int rc = ls__segment_open_mem(&s, m, len, "mutated", NULL);
        if (rc) {
            assert_int_equal(rc, SCRY_ECORRUPT);
            refused++;
            continue;
        }
        opened++;
        struct scry_arena *ar = scry_arena_create(0);
        for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
            struct words w = { .n = 0 };
            ls_tokenize_words(needles[i], strlen(needles[i]), add_word, &w);
            uint64_t *ids;
            size_t n;
            assert_int_equal(ls__segment_token_chunks(s, w.v, w.n, ar, &ids, &n, NULL), 0);
            for (size_t k = 0; n != SIZE_MAX && k < n; k++)
                assert_true(ids[k] < s->n_chunks);
        }
        uint64_t *ids;
        size_t n;
        ls__segment_value_chunks(s, "request completed", 17, ar, &ids, &n);
        scry_arena_destroy(ar);
        ls__segment_release(s);
    }
    assert_true(refused > 1000);
    free(m);
    free(img);
    print_message("damaged segments: %d refused, %d opened and answered\n", refused, opened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_ids_equal_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_trace_id_hits_its_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_dictionary_of_dense_postings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_damage_behind_crcs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_words_sharing_prefixes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
