/* blockbench.c — bytes per sample of a block on rwgen data, and select
 * latency on a synthetic 1M-series index.
 *
 *   blockbench FILE [DIR]     FILE from `rwgen gen`; blocks go under DIR
 *                             (default /tmp/blockbench)
 *   blockbench --select [DIR] only the 1M-series select benchmark
 *
 * Part 1 cuts every series in chunks of 120 samples (as the head does),
 * writes one block three ways (chunks as given; re-chunked to <= 512
 * samples; re-chunked without page/index compression) and prints chunks,
 * index and total bytes per sample. Part 2 writes 1M series (100 metrics x
 * 10000 instances, labels __name__, instance, job (10 values), zone (4)) and
 * times select(two matchers) + walking the result's label sets, median of
 * 21 runs. Figures and commands: tsdb/README.md "Blocks". */
#include <inttypes.h>
#include <time.h>

#include "bench/rwgen_read.h"
#include "core/labels.h"
#include "core/matcher.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"

/* ---- part 1: rwgen -------------------------------------------------------- */

struct bseries {
    struct scry_label *labs;
    size_t n_labs;
    struct tsdb_chunk_meta *cm;
    size_t n_cm;
};

struct bsrc {
    struct bseries *s;
    size_t n, pos;
};

static int cmp_bseries(const void *a, const void *b)
{
    const struct bseries *x = a, *y = b;
    struct scry_labels lx = {x->labs, x->n_labs}, ly = {y->labs, y->n_labs};
    return scry_labels_cmp(&lx, &ly);
}

/* The series' labels, sorted, on the heap. */
static void bseries_labels(const struct series *s, struct bseries *b)
{
    struct scry_label tmp[64];
    b->n_labs = parse_labels(s, tmp, 64);
    b->labs = scry_malloc((b->n_labs ? b->n_labs : 1) * sizeof *b->labs);
    memcpy(b->labs, tmp, b->n_labs * sizeof *b->labs);
}

static int bsrc_next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    (void)err;
    struct bsrc *s = ud;
    if (s->pos >= s->n)
        return 0;
    struct bseries *b = &s->s[s->pos++];
    *out = (struct tsdb_block_series){.ls = {b->labs, b->n_labs}, .chunks = b->cm, .n_chunks = b->n_cm};
    return 1;
}

static const struct tsdb_block_source bsrc_ops = {.next = bsrc_next};

static void write_variant(const char *dir, struct bsrc *src, int64_t mint, int64_t maxt,
                          const char *name, struct tsdb_block_write_opts o, uint64_t n_samples)
{
    src->pos = 0;
    struct tsdb_block_meta m;
    char id[32];
    struct scry_err err;
    double t0 = now_s();
    if (tsdb_block_write(dir, &bsrc_ops, src, mint, maxt, &o, id, &m, &err))
        die(err.msg);
    double dt = now_s() - t0;
    double ns = (double)n_samples;
    printf("  %-28s chunks %.4f  index %.4f  total %.4f bytes/sample  (%" PRIu64 " chunks, "
           "index %" PRIu64 " B, write %.2f s)\n", name, (double)m.chunks_bytes / ns,
           (double)m.index_bytes / ns, (double)m.bytes / ns, m.n_chunks, m.index_bytes, dt);
    if (m.n_samples != n_samples)
        die("sample count differs");
}

static void part1(const char *file, const char *dir)
{
    struct dataset d = {0};
    load(&d, file);
    struct bsrc src = {scry_calloc(d.n_series, sizeof *src.s), d.n_series, 0};
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    size_t cut = 120;
    for (size_t i = 0; i < d.n_series; i++) {
        struct series *s = &d.s[i];
        struct bseries *b = &src.s[i];
        bseries_labels(s, b);
        b->cm = scry_calloc((s->n + cut - 1) / cut + 1, sizeof *b->cm);
        for (uint32_t k = 0; k < s->n; k += (uint32_t)cut) {
            size_t m = s->n - k < cut ? s->n - k : cut, len;
            uint8_t *buf = scry_malloc(tsdb_chunk_max_len(m));
            if (tsdb_chunk_encode(s->t + k, s->v + k, m, TSDB_VENC_AUTO, buf, tsdb_chunk_max_len(m),
                                  &len, NULL))
                die("encode");
            b->cm[b->n_cm++] = (struct tsdb_chunk_meta){s->t[k], s->t[k + m - 1], (uint32_t)m,
                                                         buf, (uint32_t)len};
        }
        mint = s->t[0] < mint ? s->t[0] : mint;
        maxt = s->t[s->n - 1] > maxt ? s->t[s->n - 1] : maxt;
    }
    qsort(src.s, src.n, sizeof *src.s, cmp_bseries);
    printf("%s: %zu series, %" PRIu64 " samples, one block\n", file, d.n_series, d.n_samples);
    write_variant(dir, &src, mint, maxt, "chunks of 120 as given", (struct tsdb_block_write_opts){0},
                  d.n_samples);
    write_variant(dir, &src, mint, maxt, "re-chunked (<= 512)",
                  (struct tsdb_block_write_opts){.rechunk = true}, d.n_samples);
    write_variant(dir, &src, mint, maxt, "re-chunked, no compression",
                  (struct tsdb_block_write_opts){.rechunk = true, .no_compress = true}, d.n_samples);
    write_variant(dir, &src, mint, maxt, "re-chunked, group 16",
                  (struct tsdb_block_write_opts){.rechunk = true, .group_size = 16}, d.n_samples);
    write_variant(dir, &src, mint, maxt, "re-chunked, group 256",
                  (struct tsdb_block_write_opts){.rechunk = true, .group_size = 256}, d.n_samples);
}

/* ---- part 2: select on 1M series --------------------------------------------- */

struct syn {
    size_t i, n;
    char metric[32], inst[32], job[16], zone[8];
    struct scry_label labs[4];
    struct tsdb_chunk_meta cm;
    uint8_t chunk[256];
};

static int syn_next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    (void)err;
    struct syn *s = ud;
    if (s->i >= s->n)
        return 0;
    size_t metric = s->i / 10000, inst = s->i % 10000;
    s->i++;
    snprintf(s->metric, sizeof s->metric, "metric_%02zu", metric);
    snprintf(s->inst, sizeof s->inst, "host-%05zu", inst);
    snprintf(s->job, sizeof s->job, "job-%zu", inst / 1000);
    snprintf(s->zone, sizeof s->zone, "z%zu", inst % 4);
    s->labs[0] = (struct scry_label){"__name__", s->metric};
    s->labs[1] = (struct scry_label){"instance", s->inst};
    s->labs[2] = (struct scry_label){"job", s->job};
    s->labs[3] = (struct scry_label){"zone", s->zone};
    *out = (struct tsdb_block_series){.ls = {s->labs, 4}, .chunks = &s->cm, .n_chunks = 1};
    return 1;
}

static const struct tsdb_block_source syn_ops = {.next = syn_next};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void time_select(struct tsdb_block *b, const char *desc, int t1, const char *n1,
                        const char *v1, int t2, const char *n2, const char *v2, bool samples)
{
    struct scry_matcher ms[2];
    if (scry_matcher_init(&ms[0], t1, n1, v1, NULL) || scry_matcher_init(&ms[1], t2, n2, v2, NULL))
        die("matcher");
    double runs[21];
    size_t n = 0;
    for (int r = 0; r < 21; r++) {
        double t0 = now_s();
        struct scry_querier *q;
        struct scry_series_set *ss;
        tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, NULL);
        if (q->ops->select_series(q, ms, 2, NULL, &ss, NULL))
            die("select");
        n = 0;
        size_t labs = 0;
        while (ss->ops->next(ss)) {
            labs += ss->ops->labels(ss)->n;
            if (samples) {
                struct scry_sample_iter *it = ss->ops->samples(ss);
                while (it->ops->next(it))
                    ;
            }
            n++;
        }
        if (ss->ops->err(ss, NULL) || labs < n)
            die("iteration");
        ss->ops->close(ss);
        q->ops->close(q);
        runs[r] = now_s() - t0;
    }
    qsort(runs, 21, sizeof *runs, cmp_d);
    printf("  %-52s %6zu series  %7.3f ms (median of 21; min %.3f)\n", desc, n, runs[10] * 1e3,
           runs[0] * 1e3);
    scry_matcher_fini(&ms[0]);
    scry_matcher_fini(&ms[1]);
}

static void part2(const char *dir)
{
    struct syn s = {.n = 1000000};
    int64_t t = 1700000000000;
    double v = 1;
    size_t len;
    if (tsdb_chunk_encode(&t, &v, 1, TSDB_VENC_AUTO, s.chunk, sizeof s.chunk, &len, NULL))
        die("encode");
    s.cm = (struct tsdb_chunk_meta){t, t, 1, s.chunk, (uint32_t)len};
    struct tsdb_block_meta m;
    char id[32], path[512];
    struct scry_err err;
    double t0 = now_s();
    struct tsdb_block_write_opts o = {0};
    if (tsdb_block_write(dir, &syn_ops, &s, t, t, &o, id, &m, &err))
        die(err.msg);
    printf("synthetic: %" PRIu64 " series, index %" PRIu64 " bytes (%.1f bytes/series), "
           "written in %.2f s\n", m.n_series, m.index_bytes,
           (double)m.index_bytes / (double)m.n_series, now_s() - t0);
    snprintf(path, sizeof path, "%s/%s", dir, id);
    struct tsdb_block *b;
    t0 = now_s();
    if (tsdb_block_open(&b, path, &err))
        die(err.msg);
    printf("  open (validate CRCs, decode symbols and postings table): %.1f ms\n",
           (now_s() - t0) * 1e3);
    time_select(b, "{__name__=\"metric_42\", job!=\"job-3\"}", SCRY_MATCH_EQ, "__name__",
                "metric_42", SCRY_MATCH_NEQ, "job", "job-3", false);
    time_select(b, "{__name__=~\"metric_4.\", job=\"job-3\"}", SCRY_MATCH_RE, "__name__",
                "metric_4.", SCRY_MATCH_EQ, "job", "job-3", false);
    time_select(b, "{__name__=\"metric_42\", zone=~\"z[0-3]\"}", SCRY_MATCH_EQ, "__name__",
                "metric_42", SCRY_MATCH_RE, "zone", "z[0-3]", false);
    time_select(b, "{__name__=\"metric_42\", instance=~\"host-0.*\"}", SCRY_MATCH_EQ, "__name__",
                "metric_42", SCRY_MATCH_RE, "instance", "host-0.*", false);
    time_select(b, "same as the second, iterating samples", SCRY_MATCH_RE, "__name__",
                "metric_4.", SCRY_MATCH_EQ, "job", "job-3", true);
    tsdb_block_close(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: blockbench FILE|--select [DIR]\n");
        return 2;
    }
    const char *dir = argc > 2 ? argv[2] : "/tmp/blockbench";
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd))
        die("cannot make DIR");
    if (strcmp(argv[1], "--select"))
        part1(argv[1], dir);
    part2(dir);
    return 0;
}
