/* fuzz_block.c — the block reader (index_read.c, index_postings.c,
 * block_read.c) on arbitrary index and chunks files.
 *
 * Input: le32 k, then k bytes of index file, then the chunks file (the
 * rest). They are written into a block directory and opened without the
 * CRC and meta.json checks (a fuzzer cannot forge CRCs; those checks are
 * covered by test_block.c), then queried: selects with every matcher kind,
 * full sample iteration with seeks, label names and values. Any error is
 * fine; a crash, a leak or an out-of-bounds read is not. Seeds:
 * tests/fuzz/corpus/block/ (written by gen_corpus_block.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/matcher.h"
#include "tsdb/block_internal.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static char dir[64];

static void spit(const char *name, const uint8_t *p, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK(fwrite(p, 1, len, f) == len);
    fclose(f);
}

static void query(struct scry_querier *q, const struct scry_matcher *ms, size_t n_ms)
{
    struct scry_series_set *ss;
    struct scry_select_hints h = {.mint = INT64_MIN, .maxt = INT64_MAX};
    if (q->ops->select_series(q, ms, n_ms, &h, &ss, NULL))
        return;
    int k = 0;
    while (ss->ops->next(ss)) {
        const struct scry_labels *ls = ss->ops->labels(ss);
        CHECK(ls->n >= 1);
        struct scry_sample_iter *it = ss->ops->samples(ss);
        int64_t t, prev = INT64_MIN;
        double v;
        bool ok = (k++ % 2) ? it->ops->seek(it, 1000) : it->ops->next(it);
        for (; ok; ok = it->ops->next(it)) {
            it->ops->at(it, &t, &v);
            CHECK(t > prev || prev == INT64_MIN);
            prev = t;
        }
        int rc = it->ops->err(it, NULL);
        CHECK(rc == 0 || rc == SCRY_ECORRUPT);
    }
    int rc = ss->ops->err(ss, NULL);
    CHECK(rc == 0 || rc == SCRY_ECORRUPT);
    ss->ops->close(ss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/fuzz_block_XXXXXX");
        CHECK(mkdtemp(dir));
    }
    if (size < 4)
        return 0;
    uint32_t k = tsdb__le32(data);
    if (k > size - 4)
        k = (uint32_t)(size - 4);
    spit("index", data + 4, k);
    spit("chunks", data + 4 + k, size - 4 - k);
    struct tsdb__open_opts o = {.no_page_crc = true, .no_index_crc = true, .no_meta = true};
    struct tsdb_block *b;
    struct scry_err err;
    int rc = tsdb__block_open(&b, dir, &o, &err);
    if (rc) {
        CHECK(rc == SCRY_ECORRUPT || rc == SCRY_EIO);
        return 0;
    }
    struct scry_querier *q;
    CHECK(tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, NULL) == 0);
    static const struct { int type; const char *name, *value; } m[] = {
        {SCRY_MATCH_EQ, "__name__", "up"}, {SCRY_MATCH_NEQ, "job", ""},
        {SCRY_MATCH_RE, "instance", ".*1.*"}, {SCRY_MATCH_NRE, "mode", "idle|user"},
        {SCRY_MATCH_EQ, "job", ""},
    };
    struct scry_matcher ms[5];
    for (int i = 0; i < 5; i++)
        CHECK(scry_matcher_init(&ms[i], m[i].type, m[i].name, m[i].value, NULL) == 0);
    query(q, NULL, 0);
    query(q, ms, 1);
    query(q, ms + 1, 2);
    query(q, ms + 3, 2);
    struct scry_arena *a = scry_arena_create(0);
    const char **out;
    size_t n;
    q->ops->label_names(q, NULL, 0, INT64_MIN, INT64_MAX, a, &out, &n, NULL);
    q->ops->label_names(q, ms + 2, 1, INT64_MIN, INT64_MAX, a, &out, &n, NULL);
    q->ops->label_values(q, "job", NULL, 0, INT64_MIN, INT64_MAX, a, &out, &n, NULL);
    q->ops->label_values(q, "instance", ms + 1, 1, INT64_MIN, INT64_MAX, a, &out, &n, NULL);
    struct tsdb_block_label_stat dummy;
    (void)dummy;
    scry_arena_destroy(a);
    for (int i = 0; i < 5; i++)
        scry_matcher_fini(&ms[i]);
    q->ops->close(q);
    tsdb_block_close(b);
    return 0;
}
