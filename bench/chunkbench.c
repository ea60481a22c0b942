/* chunkbench.c — bytes per sample and speed of tsdb chunks on rwgen data.
 *
 * Reads a file written by `rwgen gen` (shared/bench/peers/rwgen.c: a header,
 * then records of snappy-compressed remote_write WriteRequests), decodes the
 * protobuf by hand, groups samples per series, cuts chunks of 120 samples and
 * encodes them. Prints bytes per sample per value encoding and overall, the
 * same with an XOR-only encoder (Prometheus-like), and with all chunks packed
 * into 64 KiB pages compressed by lz4 and zstd. Times encode and decode
 * (median of 5 runs).
 *
 *   chunkbench FILE                 the report
 *   chunkbench FILE --decode-only N decode all chunks N times (for callgrind)
 *   chunkbench FILE --decode-batch N the same through tsdb_chunk_iter_next_n
 *
 * Figures and commands: bench/README.md. */
#include <inttypes.h>
#include <lz4.h>
#include <lz4hc.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "core/mem.h"
#include "tsdb/chunk.h"

static uint32_t CUT = 120; /* CHUNKBENCH_CUT overrides */
#define PAGE_BYTES 65536

#include "rwgen_read.h" /* struct series, struct dataset, load() */

static int cmp_series(const void *a, const void *b)
{
    const struct series *x = a, *y = b;
    size_t n = x->labels_len < y->labels_len ? x->labels_len : y->labels_len;
    int c = memcmp(x->labels, y->labels, n);
    return c ? c : (x->labels_len > y->labels_len) - (x->labels_len < y->labels_len);
}

struct chunks {
    uint8_t *bytes;
    size_t len, cap;
    size_t *off; /* n + 1 */
    int *venc;
    uint32_t *n_samples;
    size_t n, n_cap;
    size_t hdr_bytes; /* bytes before the bit streams */
};

/* Encodes every series in cuts of CUT samples with encoding venc. */
static void encode_all(const struct dataset *d, int venc, struct chunks *c)
{
    c->len = 0;
    c->n = 0;
    c->hdr_bytes = 0;
    for (size_t si = 0; si < d->n_series; si++) {
        const struct series *s = &d->s[si];
        for (uint32_t i = 0; i < s->n; i += CUT) {
            uint32_t m = s->n - i < CUT ? s->n - i : CUT;
            size_t need = tsdb_chunk_max_len(m);
            if (c->len + need > c->cap) {
                c->cap = (c->len + need) * 2;
                c->bytes = scry_realloc(c->bytes, c->cap);
            }
            if (c->n + 2 > c->n_cap) {
                c->n_cap = c->n_cap ? c->n_cap * 2 : 1024;
                c->off = scry_realloc(c->off, c->n_cap * sizeof *c->off);
                c->venc = scry_realloc(c->venc, c->n_cap * sizeof *c->venc);
                c->n_samples = scry_realloc(c->n_samples, c->n_cap * sizeof *c->n_samples);
            }
            size_t len;
            struct scry_err err;
            int v = venc;
            int rc = tsdb_chunk_encode(s->t + i, s->v + i, m, v, c->bytes + c->len, need, &len, &err);
            if (rc && venc != TSDB_VENC_AUTO) /* forced encoding does not fit: XOR */
                rc = tsdb_chunk_encode(s->t + i, s->v + i, m, v = TSDB_VENC_XOR, c->bytes + c->len, need, &len, &err);
            if (rc)
                die(err.msg);
            struct tsdb_chunk_info info;
            if (tsdb_chunk_info(c->bytes + c->len, len, &info))
                die("info failed");
            struct tsdb_chunk_iter it; /* peeks at a private field: header size */
            tsdb_chunk_iter_init(&it, c->bytes + c->len, len);
            c->hdr_bytes += (size_t)(it.br.p - (c->bytes + c->len));
            c->off[c->n] = c->len;
            c->venc[c->n] = info.venc;
            c->n_samples[c->n] = m;
            c->n++;
            c->len += len;
            c->off[c->n] = c->len;
        }
    }
}

/* Decodes every chunk; returns the samples seen. With d, checks each sample
 * bit for bit against the input (chunks are in series order). */
static __attribute__((noinline)) uint64_t decode_all(const struct chunks *c, const struct dataset *d, double *sum)
{
    uint64_t n = 0;
    double acc = 0;
    size_t si = 0;
    uint32_t pos = 0;
    for (size_t ci = 0; ci < c->n; ci++) {
        const struct series *s = NULL;
        if (d) {
            while (pos >= d->s[si].n) {
                si++;
                pos = 0;
            }
            s = &d->s[si];
        }
        struct tsdb_chunk_iter it;
        tsdb_chunk_iter_init(&it, c->bytes + c->off[ci], c->off[ci + 1] - c->off[ci]);
        uint32_t j = 0;
        while (tsdb_chunk_iter_next(&it)) {
            int64_t t;
            double v;
            tsdb_chunk_iter_at(&it, &t, &v);
            if (s && (t != s->t[pos + j] || memcmp(&v, &s->v[pos + j], 8) != 0))
                die("round trip mismatch");
            acc += v;
            j++;
        }
        if (tsdb_chunk_iter_err(&it) || j != c->n_samples[ci])
            die("decode error");
        pos += j;
        n += j;
    }
    *sum = acc;
    return n;
}

/* decode_all through tsdb_chunk_iter_next_n, the path block queries take
 * (bit_next_batch in tsdb/block_read.c): whole chunks into arrays. */
static __attribute__((noinline)) uint64_t decode_batch_all(const struct chunks *c, double *sum)
{
    static int64_t t[TSDB_CHUNK_MAX_SAMPLES];
    static double v[TSDB_CHUNK_MAX_SAMPLES];
    uint64_t n = 0;
    double acc = 0;
    for (size_t ci = 0; ci < c->n; ci++) {
        struct tsdb_chunk_iter it;
        tsdb_chunk_iter_init(&it, c->bytes + c->off[ci], c->off[ci + 1] - c->off[ci]);
        size_t got = tsdb_chunk_iter_next_n(&it, t, v, TSDB_CHUNK_MAX_SAMPLES);
        if (tsdb_chunk_iter_err(&it) || got != c->n_samples[ci])
            die("decode error");
        acc += v[got - 1] + (double)t[got - 1];
        n += got;
    }
    *sum = acc;
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median5(double *t)
{
    qsort(t, 5, sizeof *t, cmp_double);
    return t[2];
}

/* Concatenates all chunks and compresses them in PAGE_BYTES pages. */
static int cmp_double(const void *a, const void *b);
static double median5(double *t);

/* Concatenates all chunks and compresses them in PAGE_BYTES pages; returns
 * the compressed bytes and, when dec_s != NULL, the median time of 5 runs
 * that decompress every page. */
static size_t paged_timed(const struct chunks *c, int algo, double *dec_s)
{
    size_t total = 0, n_pages = (c->len + PAGE_BYTES - 1) / PAGE_BYTES;
    size_t bound = algo <= 1 ? (size_t)LZ4_compressBound(PAGE_BYTES) : ZSTD_compressBound(PAGE_BYTES);
    char *dst = scry_malloc(bound * n_pages), *out = scry_malloc(PAGE_BYTES);
    size_t *zl = scry_malloc(n_pages * sizeof *zl);
    for (size_t o = 0, pg = 0; o < c->len; o += PAGE_BYTES, pg++) {
        size_t m = c->len - o < PAGE_BYTES ? c->len - o : PAGE_BYTES;
        char *d = dst + pg * bound;
        size_t z;
        if (algo == 0)
            z = (size_t)LZ4_compress_default((const char *)c->bytes + o, d, (int)m, (int)bound);
        else if (algo == 1)
            z = (size_t)LZ4_compress_HC((const char *)c->bytes + o, d, (int)m, (int)bound, LZ4HC_CLEVEL_MAX);
        else
            z = ZSTD_compress(d, bound, c->bytes + o, m, algo - 10);
        if (z == 0 || (algo >= 10 && ZSTD_isError(z)))
            die("compress failed");
        zl[pg] = z;
        total += z < m ? z : m; /* a page that does not shrink is stored raw */
    }
    if (dec_s) {
        double t[5];
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        for (int r = 0; r < 5; r++) {
            double t0 = now_s();
            for (size_t pg = 0; pg < n_pages; pg++) {
                size_t got = algo <= 1 ? (size_t)LZ4_decompress_safe(dst + pg * bound, out, (int)zl[pg], PAGE_BYTES)
                                       : ZSTD_decompressDCtx(dctx, out, PAGE_BYTES, dst + pg * bound, zl[pg]);
                if (got == 0 || got > PAGE_BYTES)
                    die("decompress failed");
            }
            t[r] = now_s() - t0;
        }
        ZSTD_freeDCtx(dctx);
        *dec_s = median5(t);
    }
    free(dst);
    free(out);
    free(zl);
    return total;
}

static size_t paged(const struct chunks *c, int algo)
{
    return paged_timed(c, algo, NULL);
}

/* Like paged(), but each page lays out the headers of its chunks first and
 * their bit streams after: headers of neighbouring series (same timestamps,
 * same modes) then sit together where the compressor can find them. */
static size_t paged_split(const struct chunks *c, int level)
{
    size_t total = 0, bound = ZSTD_compressBound(2 * PAGE_BYTES);
    uint8_t *page = scry_malloc(2 * PAGE_BYTES + 1);
    char *dst = scry_malloc(bound);
    for (size_t ci = 0; ci < c->n;) {
        size_t cj = ci, bytes = 0, m = 0;
        while (cj < c->n && (bytes == 0 || bytes + (c->off[cj + 1] - c->off[cj]) <= PAGE_BYTES)) {
            bytes += c->off[cj + 1] - c->off[cj];
            cj++;
        }
        for (size_t k = ci; k < cj; k++) {
            struct tsdb_chunk_iter it;
            tsdb_chunk_iter_init(&it, c->bytes + c->off[k], c->off[k + 1] - c->off[k]);
            size_t h = (size_t)(it.br.p - (c->bytes + c->off[k]));
            memcpy(page + m, c->bytes + c->off[k], h);
            m += h;
        }
        for (size_t k = ci; k < cj; k++) {
            struct tsdb_chunk_iter it;
            tsdb_chunk_iter_init(&it, c->bytes + c->off[k], c->off[k + 1] - c->off[k]);
            size_t h = (size_t)(it.br.p - (c->bytes + c->off[k]));
            memcpy(page + m, c->bytes + c->off[k] + h, c->off[k + 1] - c->off[k] - h);
            m += c->off[k + 1] - c->off[k] - h;
        }
        size_t z = ZSTD_compress(dst, bound, page, m, level);
        if (ZSTD_isError(z))
            die("zstd failed");
        total += z < m ? z : m;
        ci = cj;
    }
    free(page);
    free(dst);
    return total;
}

static const char *venc_name[] = {"const", "xor", "dec", "bits"};

/* The __name__ value of a series (labels are encoded Label messages). */
static void metric_name(const struct series *s, char *out, size_t cap)
{
    struct pb b = {(const uint8_t *)s->labels, (const uint8_t *)s->labels + s->labels_len};
    uint32_t f, wt;
    snprintf(out, cap, "?");
    while (pb_key(&b, &f, &wt)) {
        struct pb l = pb_sub(&b);
        struct pb nm = {0}, val = {0};
        while (pb_key(&l, &f, &wt)) {
            struct pb x = pb_sub(&l);
            if (f == 1)
                nm = x;
            else
                val = x;
        }
        if (nm.p && nm.end - nm.p == 8 && memcmp(nm.p, "__name__", 8) == 0) {
            snprintf(out, cap, "%.*s", (int)(val.end - val.p), (const char *)val.p);
            return;
        }
    }
}

/* Bytes per metric name, largest first (set CHUNKBENCH_BY_METRIC=1). */
static void by_metric(const struct dataset *d, const struct chunks *c)
{
    struct row { char name[64]; size_t bytes, samples, chunks[TSDB_VENC_N_]; } *rows = NULL;
    _Static_assert(TSDB_VENC_N_ == 4, "one column per encoding");
    size_t n_rows = 0, ci = 0;
    for (size_t si = 0; si < d->n_series; si++) {
        char name[64];
        metric_name(&d->s[si], name, sizeof name);
        size_t r = 0;
        while (r < n_rows && strcmp(rows[r].name, name) != 0)
            r++;
        if (r == n_rows) {
            rows = scry_realloc(rows, ++n_rows * sizeof *rows);
            memset(&rows[r], 0, sizeof *rows);
            snprintf(rows[r].name, sizeof rows[r].name, "%s", name);
        }
        for (uint32_t i = 0; i < d->s[si].n; i += CUT, ci++) {
            rows[r].bytes += c->off[ci + 1] - c->off[ci];
            rows[r].samples += c->n_samples[ci];
            rows[r].chunks[c->venc[ci]]++;
        }
    }
    for (size_t a = 0; a < n_rows; a++)
        for (size_t b = a + 1; b < n_rows; b++)
            if (rows[b].bytes > rows[a].bytes) {
                struct row t = rows[a];
                rows[a] = rows[b];
                rows[b] = t;
            }
    printf("  %-44s %8s %7s %7s  chunks const/xor/dec/bits\n", "metric", "bytes", "share", "B/smp");
    for (size_t r = 0; r < n_rows && r < 40; r++)
        printf("  %-44s %8zu %6.2f%% %7.3f  %zu/%zu/%zu/%zu\n", rows[r].name, rows[r].bytes, 100.0 * rows[r].bytes / c->len,
               (double)rows[r].bytes / rows[r].samples, rows[r].chunks[0], rows[r].chunks[1], rows[r].chunks[2], rows[r].chunks[3]);
    free(rows);
}

static void report(const struct dataset *d, const char *title, int venc)
{
    struct chunks c = {0};
    encode_all(d, venc, &c);
    double sum;
    if (decode_all(&c, d, &sum) != d->n_samples)
        die("sample count mismatch");
    double ns = (double)d->n_samples;
    printf("\n== %s: %zu chunks, %.4f bytes/sample (headers %.4f, bit streams %.4f)\n", title, c.n, c.len / ns,
           c.hdr_bytes / ns, (c.len - c.hdr_bytes) / ns);
    for (int k = 0; k < TSDB_VENC_N_; k++) {
        size_t bytes = 0, chunks = 0, samples = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (c.venc[i] != k)
                continue;
            bytes += c.off[i + 1] - c.off[i];
            chunks++;
            samples += c.n_samples[i];
        }
        if (chunks)
            printf("  %-5s %6.2f%% of chunks  %6.2f%% of samples  %7.4f bytes/sample in kind  %6.2f%% of bytes\n",
                   venc_name[k], 100.0 * chunks / c.n, 100.0 * samples / ns, (double)bytes / samples,
                   100.0 * bytes / c.len);
    }
    printf("  pages of 64 KiB: lz4 %.4f  lz4hc %.4f  zstd-3 %.4f  zstd-9 %.4f  zstd-19 %.4f bytes/sample\n",
           paged(&c, 0) / ns, paged(&c, 1) / ns, paged(&c, 13) / ns, paged(&c, 19) / ns, paged(&c, 29) / ns);
    printf("  pages, headers before streams: zstd-3 %.4f  zstd-19 %.4f bytes/sample\n", paged_split(&c, 3) / ns,
           paged_split(&c, 19) / ns);
    if (venc == TSDB_VENC_AUTO) {
        double tl, tz3, tz19;
        paged_timed(&c, 0, &tl);
        paged_timed(&c, 13, &tz3);
        paged_timed(&c, 29, &tz19);
        printf("  page decompression (median of 5): lz4 %.0f MB/s (%.1f M samples/s), zstd-3 %.0f MB/s (%.1f M), "
               "zstd-19 %.0f MB/s (%.1f M)\n", c.len / tl / 1e6, ns / tl / 1e6, c.len / tz3 / 1e6, ns / tz3 / 1e6,
               c.len / tz19 / 1e6, ns / tz19 / 1e6);
    }
    if (getenv("CHUNKBENCH_BY_METRIC") && venc == TSDB_VENC_AUTO)
        by_metric(d, &c);
    free(c.bytes);
    free(c.off);
    free(c.venc);
    free(c.n_samples);
}

static void speed(const struct dataset *d)
{
    struct chunks c = {0};
    double te[5], td[5], sum = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        encode_all(d, TSDB_VENC_AUTO, &c);
        te[r] = now_s() - t0;
        t0 = now_s();
        decode_all(&c, NULL, &sum);
        td[r] = now_s() - t0;
    }
    printf("\nspeed (median of 5): encode %.1f M samples/s, decode %.1f M samples/s (checksum %g)\n",
           d->n_samples / median5(te) / 1e6, d->n_samples / median5(td) / 1e6, sum);
    free(c.bytes);
    free(c.off);
    free(c.venc);
    free(c.n_samples);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: chunkbench FILE [--decode-only N | --decode-batch N]");
    struct dataset d = {0};
    if (getenv("CHUNKBENCH_CUT"))
        CUT = (uint32_t)atoi(getenv("CHUNKBENCH_CUT"));
    if (CUT < 1 || CUT > TSDB_CHUNK_MAX_SAMPLES)
        die("CHUNKBENCH_CUT out of range");
    load(&d, argv[1]);
    /* A block writes series in label order (__name__ first), so chunks of one
     * metric sit next to each other in its pages; do the same. */
    if (!getenv("CHUNKBENCH_ARRIVAL_ORDER"))
        qsort(d.s, d.n_series, sizeof *d.s, cmp_series);
    if (argc >= 4 && (strcmp(argv[2], "--decode-only") == 0 || strcmp(argv[2], "--decode-batch") == 0)) {
        bool batch = strcmp(argv[2], "--decode-batch") == 0;
        struct chunks c = {0};
        encode_all(&d, TSDB_VENC_AUTO, &c);
        double sum = 0;
        uint64_t n = 0;
        /* Per-run CPU-time rates, median and best: on a shared machine the
         * best run is the one least disturbed. */
        int reps = atoi(argv[3]);
        double rate[64], best = 0;
        if (reps > 64)
            reps = 64;
        for (int r = 0; r < reps; r++) {
            struct timespec a, b;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
            uint64_t got = batch ? decode_batch_all(&c, &sum) : decode_all(&c, NULL, &sum);
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
            n += got;
            double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
            rate[r] = got / s / 1e6;
            if (rate[r] > best)
                best = rate[r];
        }
        qsort(rate, (size_t)reps, sizeof rate[0], cmp_double);
        printf("decoded %" PRIu64 " samples (checksum %g)", n, sum);
        if (reps > 0)
            printf(": median %.1f, best %.1f M samples/s of CPU time\n", rate[reps / 2], best);
        else
            printf("\n");
        return 0;
    }
    printf("file %s: %zu series, %" PRIu64 " samples, chunks of %u samples\n", argv[1], d.n_series,
           d.n_samples, CUT);
    report(&d, "auto (smallest per chunk)", TSDB_VENC_AUTO);
    report(&d, "xor only (Prometheus-like)", TSDB_VENC_XOR);
    speed(&d);
    for (size_t i = 0; i < d.n_series; i++) {
        free(d.s[i].labels);
        free(d.s[i].t);
        free(d.s[i].v);
    }
    free(d.s);
    free(d.table);
    return 0;
}
