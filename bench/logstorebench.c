/* logstorebench.c — bytes on disk and needle latency of the log store on a
 * loggen corpus (shared/bench/logs/loggen.c).
 *
 *   logstorebench CORPUS_DIR [DATA_DIR]    DATA_DIR default /tmp/logstorebench
 *
 * Loads every stream file CORPUS_DIR/sNNNN_<app>_<instance>_<level>.log as
 * one stream {app, instance, level} through ls_appendable (one entry per
 * line; a line starting with a tab continues the previous entry, as loggen's
 * stack traces do; t_ns 1 ms apart per stream), commits every 1000 entries,
 * flushes once, and prints: raw bytes, segment bytes by section (chunks,
 * stream index + label postings, token index: dictionary, fingerprints),
 * ingest MB per CPU-second (appends + commits, flush, total), the reopen
 * time (validation + dictionary expansion), and for every needle of
 * CORPUS_DIR/manifest.json the median of 7 runs of a needle query: a querier,
 * select_streams with the needle's words as required_tokens, count of lines
 * containing the needle and copies of the first 100 (the `|= "needle"` of a
 * Loki query with limit 100), plus the chunks the index allowed. The counts
 * are checked against the manifest. bench/logstore.sh adds the zstd -3 and
 * ripgrep baselines. Figures: logstore/README.md "Numbers". */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zstd.h>

#include "core/json_read.h"
#include "core/mem.h"
#include "logstore/ls_internal.h"
#include "logstore/logstore.h"
#include "logstore/tokenize.h"

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = scry_malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fail(const char *what, struct scry_err *err)
{
    fprintf(stderr, "logstorebench: %s: %s\n", what, err->msg);
    return 1;
}

/* Loads one stream file; returns raw line bytes. */
static uint64_t load_stream(struct ls_store *st, const char *dir, const char *name,
                            uint64_t *entries)
{
    char path[4096], app[128], inst[128], lvl[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *p = read_file(path, &len);
    if (!p || sscanf(name, "s%*d_%127[^_]_%127[^_]_%63[^.].log", app, inst, lvl) != 3) {
        fprintf(stderr, "logstorebench: cannot read %s\n", path);
        exit(1);
    }
    struct scry_label v[3] = { { "app", app }, { "instance", inst }, { "level", lvl } };
    struct scry_labels ls = { v, 3 };
    struct scry_appender *app_ = NULL;
    uint64_t ref = 0, raw = 0, n = 0;
    int64_t t = 1795996800000000000LL; /* 2026-11-24T00:00:00Z */
    struct scry_err err = { 0 };
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        /* An entry: a line and the tab-led lines after it. */
        for (;;) {
            char *nl = memchr(p + i, '\n', len - i);
            i = nl ? (size_t)(nl - p) + 1 : len;
            if (i >= len || p[i] != '\t')
                break;
        }
        size_t e = i;
        if (e > s && p[e - 1] == '\n')
            e--;
        if (!app_ && scry_appender_begin(ls_appendable(st), NULL, &app_, &err) != 0)
            exit(fail("begin", &err));
        struct scry_log_entry en = { .t_ns = t, .line = { p + s, e - s } };
        t += 1000000;
        if (scry_append_log(app_, &ref, &ls, &en, &err) != 0)
            exit(fail("append", &err));
        raw += e - s;
        n++;
        if (n % 1000 == 0) {
            if (scry_appender_commit(app_, &err) != 0)
                exit(fail("commit", &err));
            app_ = NULL;
        }
    }
    if (app_ && scry_appender_commit(app_, &err) != 0)
        exit(fail("commit", &err));
    free(p);
    *entries += n;
    return raw;
}


/* Push mode: a loggen push file (SHARD\tENTRIES\tBYTES\t{json}), parsed
 * into memory first so only the appends and commits are timed: one
 * appender per batch, as the Loki push handler does. */
struct pbatch {
    struct scry_arena *a;
    struct scry_labels *ls;      /* per stream */
    struct scry_log_entry **e;   /* per stream */
    size_t *n, n_streams;
};

static struct pbatch *read_push(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct pbatch *v = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *js = line;
        for (int tabs = 0; tabs < 3 && js; tabs++)
            js = strchr(js, '\t') ? strchr(js, '\t') + 1 : NULL;
        if (!js)
            continue;
        v = scry_realloc(v, (n + 1) * sizeof *v);
        struct pbatch *b = &v[n++];
        b->a = scry_arena_create(0);
        struct scry_jval *root;
        struct scry_err err = { 0 };
        if (scry_json_parse(b->a, js, strlen(js), NULL, &root, &err) != 0)
            exit(fail("json", &err));
        const struct scry_jval *ss = scry_jval_get(root, "streams");
        b->n_streams = scry_jval_len(ss);
        b->ls = scry_arena_alloc(b->a, (b->n_streams + 1) * sizeof *b->ls);
        b->e = scry_arena_alloc(b->a, (b->n_streams + 1) * sizeof *b->e);
        b->n = scry_arena_alloc(b->a, (b->n_streams + 1) * sizeof *b->n);
        for (size_t i = 0; i < b->n_streams; i++) {
            const struct scry_jval *s = scry_jval_at(ss, i), *lbl = scry_jval_get(s, "stream");
            struct scry_labels_builder lb;
            scry_labels_builder_init(&lb, b->a);
            for (size_t k = 0; k < lbl->n; k++)
                scry_labels_builder_set(&lb, lbl->u.obj[k].key.p, lbl->u.obj[k].val.u.s);
            b->ls[i] = scry_labels_builder_labels(&lb);
            const struct scry_jval *vals = scry_jval_get(s, "values");
            b->n[i] = scry_jval_len(vals);
            b->e[i] = scry_arena_alloc(b->a, (b->n[i] + 1) * sizeof **b->e);
            for (size_t k = 0; k < b->n[i]; k++) {
                const struct scry_jval *e = scry_jval_at(vals, k);
                struct scry_log_entry *en = &b->e[i][k];
                memset(en, 0, sizeof *en);
                struct scry_str ts;
                scry_jval_str(scry_jval_at(e, 0), &ts);
                en->t_ns = strtoll(ts.p, NULL, 10);
                scry_jval_str(scry_jval_at(e, 1), &en->line);
            }
        }
    }
    free(line);
    fclose(f);
    *n_out = n;
    return v;
}

static uint64_t load_push(struct ls_store *st, struct pbatch *v, size_t n, uint64_t *entries)
{
    uint64_t raw = 0;
    struct scry_err err = { 0 };
    for (size_t b = 0; b < n; b++) {
        struct scry_appender *app;
        if (scry_appender_begin(ls_appendable(st), NULL, &app, &err) != 0)
            exit(fail("begin", &err));
        for (size_t i = 0; i < v[b].n_streams; i++) {
            uint64_t ref = 0;
            for (size_t k = 0; k < v[b].n[i]; k++) {
                if (scry_append_log(app, &ref, &v[b].ls[i], &v[b].e[i][k], &err) != 0)
                    exit(fail("append", &err));
                raw += v[b].e[i][k].line.len;
                (*entries)++;
            }
        }
        if (scry_appender_commit(app, &err) != 0)
            exit(fail("commit", &err));
    }
    return raw;
}

struct needle {
    char token[128];
    long lines; /* entries containing it */
};

/* The manifest's needles: "token": "...", then "lines": N. */
static size_t read_needles(const char *dir, struct needle *v, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    size_t len, n = 0;
    char *m = read_file(path, &len);
    if (!m)
        return 0;
    const char *q = strstr(m, "\"needles\"");
    while (q && n < cap && (q = strstr(q, "\"token\"")) != NULL) {
        if (sscanf(q, "\"token\": \"%127[^\"]\"", v[n].token) != 1)
            break;
        const char *l = strstr(q, "\"entries\"");
        if (!l || sscanf(l, "\"entries\": %ld", &v[n].lines) != 1)
            break;
        n++;
        q = l;
    }
    free(m);
    return n;
}

struct words {
    struct scry_str v[16];
    char buf[16][LS_TOKEN_MAX];
    size_t n;
};
static void add_word(void *ud, const char *t, size_t len)
{
    struct words *w = ud;
    if (w->n < 16) {
        memcpy(w->buf[w->n], t, len);
        w->v[w->n] = (struct scry_str){ w->buf[w->n], len };
        w->n++;
    }
}

/* One needle query: count of matching lines and the first 100 copied. */
static long query(struct ls_store *st, const char *needle, const struct words *w, char **first)
{
    struct scry_querier *q;
    struct scry_err err = { 0 };
    if (ls_queryable(st)->querier(ls_queryable(st), NULL, INT64_MIN, INT64_MAX, &q, &err) != 0)
        exit(fail("querier", &err));
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX,
                                   .required_tokens = w->v, .n_required_tokens = w->n };
    struct scry_stream_set *ss;
    if (q->ops->select_streams(q, NULL, 0, &h, &ss, &err) != 0)
        exit(fail("select", &err));
    long n = 0;
    size_t nl = strlen(needle);
    while (ss->ops->next(ss)) {
        struct scry_entry_iter *it = ss->ops->entries(ss);
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            if (!memmem(e.line.p, e.line.len, needle, nl))
                continue;
            if (n < 100) {
                first[n] = scry_realloc(first[n], e.line.len + 1);
                memcpy(first[n], e.line.p, e.line.len);
                first[n][e.line.len] = 0;
            }
            n++;
        }
    }
    if (ss->ops->err(ss, &err) != 0)
        exit(fail("iterate", &err));
    ss->ops->close(ss);
    q->ops->close(q);
    return n;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: logstorebench CORPUS_DIR [DATA_DIR]\n");
        return 2;
    }
    /* The allocator as `scry server` sets it up (core/mem.h), so the flush
     * reuses freed memory instead of faulting in fresh pages; set
     * LSB_GLIBC_DEFAULTS=1 for glibc's own thresholds. */
    if (!getenv("LSB_GLIBC_DEFAULTS"))
        scry_mem_keep_freed();
    const char *corpus = argv[1], *data = argc > 2 ? argv[2] : "/tmp/logstorebench";
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
    if (system(cmd) != 0)
        return 1;
    DIR *d = opendir(corpus);
    if (!d) {
        perror(corpus);
        return 1;
    }
    char **names = NULL;
    size_t n_names = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == 's' && l > 4 && !strcmp(de->d_name + l - 4, ".log")) {
            names = scry_realloc(names, (n_names + 1) * sizeof *names);
            names[n_names++] = scry_strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, name_cmp);

    struct ls_opts o = { .data_dir = data, .wal_fsync = SCRY_WAL_FSYNC_NEVER };
    if (getenv("LSB_LEVEL")) /* zstd level of the segment (default LS_SEGMENT_ZSTD_LEVEL) */
        o.zstd_level = atoi(getenv("LSB_LEVEL"));
    struct ls_store *st;
    struct scry_err err = { 0 };
    if (ls_open(&st, &o, &err) != 0)
        return fail("open", &err);
    uint64_t raw = 0, entries = 0;
    /* LSB_PUSH=FILE: load loggen's push batches (real timestamps) instead. */
    size_t n_push = 0;
    struct pbatch *push = getenv("LSB_PUSH") ? read_push(getenv("LSB_PUSH"), &n_push) : NULL;
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    if (push)
        raw = load_push(st, push, n_push, &entries);
    for (size_t i = 0; i < n_names && !push; i++)
        raw += load_stream(st, corpus, names[i], &entries);
    double c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    if (ls_flush(st, &err) != 0)
        return fail("flush", &err);
    double c2 = now_s(CLOCK_PROCESS_CPUTIME_ID), w2 = now_s(CLOCK_MONOTONIC);
    struct ls_segment *s = st->segs[0];
    const uint8_t *toc = s->map + s->len - LS_TOC_BYTES;
    uint64_t so = ls__le64(toc + LS_TOC_STREAMS_OFF), to = ls__le64(toc + LS_TOC_TOKENS_OFF);
    uint64_t tok = s->len - LS_TOC_BYTES - to;
    double mb = (double)raw / 1e6;
    printf("corpus: %zu streams, %" PRIu64 " entries, raw line bytes %" PRIu64 "\n", n_names,
           entries, raw);
    printf("segment: %zu bytes = %.2f %% of raw; %u chunks\n", s->len,
           100.0 * (double)s->len / (double)raw, s->n_chunks);
    printf("  chunks (zstd %d, <= %u KiB raw)  %10" PRIu64 "  %6.2f %%\n",
           o.zstd_level ? o.zstd_level : LS_SEGMENT_ZSTD_LEVEL,
           LS_SEG_CHUNK_BYTES >> 10, so - LS_MAGIC_BYTES, 100.0 * (double)(so - 8) / (double)raw);
    uint64_t cols_z = 0, lines_z = 0, cols_raw = 0, chunk_hdr = 0;
    struct scry_buf dec = { 0 };
    for (uint32_t i = 0; i < s->n_chunks; i++) { /* codec 4: the two frames apart */
        struct ls_chunk_src c;
        if (ls__chunk_parse(s->map + s->chunks[i].off, s->chunks[i].len, &c, &err) != 0 ||
            c.codec != LS_CODEC_ZSTD_COLS2)
            continue;
        struct ls_rd r = { c.p, c.p + c.len, false };
        uint64_t hc = ls__rd_uvarint(&r);
        cols_z += hc;
        lines_z += (uint64_t)(r.end - r.p) - hc;
        chunk_hdr += s->chunks[i].len - ((uint64_t)(r.end - r.p));
        unsigned long long fs = ZSTD_getFrameContentSize(r.p, hc);
        cols_raw += fs == ZSTD_CONTENTSIZE_ERROR || fs == ZSTD_CONTENTSIZE_UNKNOWN ? 0 : fs;
    }
    scry_buf_fini(&dec);
    printf("    entry columns frames (t_ns, metadata; %" PRIu64 " raw)  %10" PRIu64 "  %6.2f %%\n",
           cols_raw, cols_z, 100.0 * (double)cols_z / (double)raw);
    printf("    lines frames                 %10" PRIu64 "  %6.2f %%\n", lines_z,
           100.0 * (double)lines_z / (double)raw);
    printf("    chunk headers and CRCs       %10" PRIu64 "\n", chunk_hdr);
    printf("  stream index + label postings  %10" PRIu64 "  %6.2f %%\n", to - so,
           100.0 * (double)(to - so) / (double)raw);
    printf("  token index                    %10" PRIu64 "  %6.2f %%\n", tok,
           100.0 * (double)tok / (double)raw);
    printf("    dictionary (%u tokens)    %10" PRIu64 "  %6.2f %%\n", s->n_dict, s->dict_bytes,
           100.0 * (double)s->dict_bytes / (double)raw);
    printf("    hex map                      %10u\n", (s->n_chunks + 7) / 8);
    printf("    fingerprints (%" PRIu64 " keys) %10" PRIu64 "  %6.2f %%\n", s->fp.n, s->fp_bytes,
           100.0 * (double)s->fp_bytes / (double)raw);
    printf("  dictionary in RAM: %u bytes of tokens\n", s->tok_off[s->n_dict]);
    printf("ingest: appends %.1f MB/CPU-s, flush %.1f MB/CPU-s, total %.1f MB/CPU-s "
           "(%.2f CPU-s, %.2f s wall)\n", mb / (c1 - c0), mb / (c2 - c1), mb / (c2 - c0),
           c2 - c0, w2 - w0);
    ls_close(st);
    double r0 = now_s(CLOCK_MONOTONIC);
    if (ls_open(&st, &o, &err) != 0)
        return fail("reopen", &err);
    printf("reopen (validate + expand the index): %.1f ms\n", (now_s(CLOCK_MONOTONIC) - r0) * 1e3);

    struct needle nd[32];
    size_t n_nd = getenv("LSB_NO_QUERIES") ? 0 : read_needles(corpus, nd, 32);
    char *first[100] = { 0 };
    int bad = 0;
    printf("%-34s %8s %8s %10s %10s\n", "needle", "lines", "chunks", "median ms", "min ms");
    for (size_t i = 0; i < n_nd; i++) {
        struct words w = { .n = 0 };
        ls_tokenize_words(nd[i].token, strlen(nd[i].token), add_word, &w);
        struct scry_arena *a = scry_arena_create(0);
        uint64_t *ids;
        size_t n_ids;
        ls__segment_token_chunks(st->segs[0], w.v, w.n, a, &ids, &n_ids, NULL);
        scry_arena_destroy(a);
        double t[7];
        long got = 0;
        for (int r = 0; r < 7; r++) {
            double q0 = now_s(CLOCK_MONOTONIC);
            got = query(st, nd[i].token, &w, first);
            t[r] = (now_s(CLOCK_MONOTONIC) - q0) * 1e3;
        }
        qsort(t, 7, sizeof *t, dbl_cmp);
        printf("%-34s %8ld %8zu %10.3f %10.3f%s\n", nd[i].token, got,
               n_ids == SIZE_MAX ? (size_t)st->segs[0]->n_chunks : n_ids, t[3], t[0],
               got == nd[i].lines ? "" : "  MISMATCH");
        bad |= got != nd[i].lines;
    }
    for (int i = 0; i < 100; i++)
        free(first[i]);
    for (size_t i = 0; i < n_push; i++)
        scry_arena_destroy(push[i].a);
    free(push);
    ls_close(st);
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return bad;
}
