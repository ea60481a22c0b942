/* rwbench.c — remote_write decode rate: snappy + protobuf, ours vs protobuf-c.
 *
 * Reads a data set written by shared/bench/peers/rwgen.c (`rwgen gen`), holds
 * every compressed request in memory, then for each decoder runs over all of
 * them: snappy_uncompress into a reused buffer, decode, touch every sample.
 * Reports samples per CPU-second (thread CPU time) for the median of N runs.
 *
 *   gcc -O2 -o /tmp/rwgen shared/bench/peers/rwgen.c -lsnappy -lcurl -lpthread -lm
 *   /tmp/rwgen gen -o /tmp/rw10k.bin -s 10000
 *   ./build/bench/rwbench /tmp/rw10k.bin            # all modes, median of 5
 *   ./build/bench/rwbench /tmp/rw10k.bin -m ours -n 1   # one pass, for callgrind:
 *   valgrind --tool=callgrind ./build/bench/rwbench /tmp/rw10k.bin -m ours -n 1 -l 100
 *
 * Modes: snappy (decompress only), ours (col_rw_decode), ours+labels (also
 * what the HTTP handler does per series before the store: NUL-terminated
 * label copies, scry_labels_validate), pbc (protobuf-c unpack, walk, free).
 * -l N limits the pass to the first N requests. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <snappy-c.h>

#include "collector/proto/remote.pb-c.h"
#include "collector/remote_write.h"
#include "core/labels.h"

/* The file layout, as rwgen.c writes it (fhdr_t, then per request rhdr_t +
 * comp_len bytes of snappy). Kept in step by hand; rwgen checks version 1. */
struct fhdr {
    char magic[8];
    uint32_t version, tmpl_n;
    uint64_t nseries;
    uint32_t nsteps, step_ms;
    int64_t t_first_ms, t_last_ms, end_ms;
    uint64_t seed, total_samples, nrecords;
    uint32_t nchunks, batch_series, batch_samples;
    int32_t jitter_ms;
    uint64_t raw_bytes, comp_bytes;
};
struct rhdr {
    uint32_t chunk, nseries, nsamples, raw_len, comp_len, pad;
};

struct rec {
    const char *comp;
    size_t comp_len, raw_len;
};

/* CPU time of this thread: the target is samples per server-CPU-second,
 * and the number holds up better than wall time on a shared machine. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "rwbench: %s\n", msg);
    exit(2);
}

/* ---- sinks: every sample is touched, so nothing is optimised away ------- */

struct sink {
    uint64_t n_samples, n_series;
    double sum;
    int64_t tsum;
    /* ours+labels */
    char *strs;
    size_t cap_strs;
    struct scry_label lv[256];
    uint64_t n_invalid;
};

static int on_series(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    struct sink *k = ud;
    k->n_series++;
    k->n_samples += s->n_samples;
    for (size_t i = 0; i < s->n_samples; i++) {
        k->sum += s->samples[i].v;
        k->tsum += s->samples[i].t_ms;
    }
    return 0;
}

static int on_series_labels(void *ud, const struct col_rw_series *s, struct scry_err *err)
{
    struct sink *k = ud;
    size_t total = 0, n = s->n_labels < 256 ? s->n_labels : 256;
    for (size_t i = 0; i < n; i++)
        total += s->labels[i].name.len + s->labels[i].value.len + 2;
    if (total > k->cap_strs) {
        k->cap_strs = total * 2;
        k->strs = realloc(k->strs, k->cap_strs);
    }
    char *p = k->strs;
    for (size_t i = 0; i < n; i++) {
        const struct col_rw_label *l = &s->labels[i];
        k->lv[i].name = p;
        memcpy(p, l->name.p, l->name.len);
        p += l->name.len;
        *p++ = 0;
        k->lv[i].value = p;
        memcpy(p, l->value.p, l->value.len);
        p += l->value.len;
        *p++ = 0;
    }
    struct scry_labels ls = { k->lv, n };
    if (scry_labels_validate(&ls, NULL) != 0 || !scry_labels_get(&ls, SCRY_METRIC_NAME))
        k->n_invalid++;
    return on_series(ud, s, err);
}

/* ---- one pass ----------------------------------------------------------- */

enum mode { M_SNAPPY, M_OURS, M_OURS_LABELS, M_PBC, M_N };
static const char *const mode_name[M_N] = { "snappy", "ours", "ours+labels", "pbc" };

static void pass(enum mode m, const struct rec *r, size_t n, char *raw, struct sink *k)
{
    struct col_rw_decoder d;
    col_rw_decoder_init(&d);
    for (size_t i = 0; i < n; i++) {
        size_t len = r[i].raw_len;
        if (snappy_uncompress(r[i].comp, r[i].comp_len, raw, &len) != SNAPPY_OK)
            die("snappy_uncompress failed");
        if (m == M_SNAPPY) {
            k->n_samples += (unsigned char)raw[len / 2];
        } else if (m == M_OURS || m == M_OURS_LABELS) {
            struct scry_err err;
            if (col_rw_decode(&d, raw, len, m == M_OURS ? on_series : on_series_labels, k,
                              &err) != 0) {
                fprintf(stderr, "request %zu: %s\n", i, err.msg);
                die("decode failed");
            }
        } else {
            Prometheus__WriteRequest *wr =
                prometheus__write_request__unpack(NULL, len, (const uint8_t *)raw);
            if (!wr)
                die("protobuf-c unpack failed");
            for (size_t s = 0; s < wr->n_timeseries; s++) {
                const Prometheus__TimeSeries *ts = wr->timeseries[s];
                k->n_series++;
                k->n_samples += ts->n_samples;
                for (size_t j = 0; j < ts->n_samples; j++) {
                    k->sum += ts->samples[j]->value;
                    k->tsum += ts->samples[j]->timestamp;
                }
            }
            prometheus__write_request__free_unpacked(wr, NULL);
        }
    }
    col_rw_decoder_fini(&d);
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *only = NULL;
    int runs = 5;
    size_t limit = SIZE_MAX;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-l") && i + 1 < argc)
            limit = (size_t)strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            die("usage: rwbench FILE [-m snappy|ours|ours+labels|pbc] [-n RUNS] [-l REQUESTS]");
    }
    if (!path || runs < 1 || runs > 101)
        die("usage: rwbench FILE [-m snappy|ours|ours+labels|pbc] [-n RUNS] [-l REQUESTS]");

    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open the data set");
    struct fhdr h;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, "RWBENCH1", 8) || h.version != 1)
        die("not an rwgen data set");
    size_t n = h.nrecords < limit ? (size_t)h.nrecords : limit;
    struct rec *r = calloc(n ? n : 1, sizeof *r);
    size_t max_raw = 0;
    uint64_t samples = 0, comp_bytes = 0, raw_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        struct rhdr rh;
        if (fread(&rh, sizeof rh, 1, f) != 1)
            die("truncated data set");
        char *c = malloc(rh.comp_len ? rh.comp_len : 1);
        if (fread(c, 1, rh.comp_len, f) != rh.comp_len)
            die("truncated data set");
        r[i] = (struct rec){ c, rh.comp_len, rh.raw_len };
        max_raw = rh.raw_len > max_raw ? rh.raw_len : max_raw;
        samples += (uint64_t)rh.nseries * rh.nsamples;
        comp_bytes += rh.comp_len;
        raw_bytes += rh.raw_len;
    }
    fclose(f);
    char *raw = malloc(max_raw + 1);
    printf("data set: %s: %zu requests, %" PRIu64 " samples, %.1f MB raw, %.1f MB snappy\n", path,
           n, samples, (double)raw_bytes / 1e6, (double)comp_bytes / 1e6);
    printf("%-12s %14s %10s %12s  (per CPU-second, median of %d runs)\n", "mode", "samples/s",
           "MB/s raw", "ns/sample", runs);
    for (int m = 0; m < M_N; m++) {
        if (only && strcmp(only, mode_name[m]) != 0)
            continue;
        double t[101];
        struct sink k = { 0 };
        for (int i = 0; i < runs; i++) {
            k.n_samples = k.n_series = 0;
            double t0 = now_s();
            pass((enum mode)m, r, n, raw, &k);
            t[i] = now_s() - t0;
            if (m != M_SNAPPY && k.n_samples != samples)
                die("sample count does not match the data set header");
            if (k.n_invalid)
                die("invalid label sets in the data set");
        }
        qsort(t, (size_t)runs, sizeof t[0], dcmp);
        double med = t[runs / 2];
        printf("%-12s %14.0f %10.0f %12.2f\n", mode_name[m], (double)samples / med,
               (double)raw_bytes / med / 1e6, med * 1e9 / (double)samples);
        free(k.strs);
    }
    for (size_t i = 0; i < n; i++)
        free((void *)r[i].comp);
    free(r);
    free(raw);
    return 0;
}
