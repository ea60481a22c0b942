/* rwsend.c — a deterministic Prometheus remote_write sender for tests.
 *
 *   rwsend URL SERIES SAMPLES BATCH [START_MS]
 *
 * Sends SERIES series × SAMPLES samples, in time order, BATCH samples per
 * series per request (so request k holds samples k*BATCH .. k*BATCH+BATCH-1
 * of every series). Series i is crash_test{series="i"}; its sample j has
 * timestamp START_MS + j*1000 and value i*1e6 + j, so a checker can compute
 * exactly what must be stored. After each 2xx it prints "ack K" and flushes,
 * so a test that kills the server knows which requests were acknowledged.
 * Exits 0 when all were acknowledged, 1 on the first failure (printing it).
 *
 * The protobuf is encoded by hand (five message types, three field kinds):
 * a test tool should not depend on the code it tests. */
#include <curl/curl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void varint(struct scry_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        scry_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    scry_buf_putc(b, (char)v);
}

static void tag(struct scry_buf *b, unsigned field, unsigned wire) { varint(b, field << 3 | wire); }

static void bytes_field(struct scry_buf *b, unsigned field, const void *p, size_t len)
{
    tag(b, field, 2);
    varint(b, len);
    scry_buf_put(b, p, len);
}

static void label(struct scry_buf *b, const char *name, const char *value)
{
    struct scry_buf l = { 0 };
    bytes_field(&l, 1, name, strlen(name));
    bytes_field(&l, 2, value, strlen(value));
    bytes_field(b, 1, l.p, l.len);
    scry_buf_fini(&l);
}

static void sample(struct scry_buf *b, double v, int64_t t)
{
    struct scry_buf s = { 0 };
    tag(&s, 1, 1);
    scry_buf_put(&s, &v, 8); /* little-endian double, as x86 stores it */
    tag(&s, 2, 0);
    varint(&s, (uint64_t)t);
    bytes_field(b, 2, s.p, s.len);
    scry_buf_fini(&s);
}

static void request(struct scry_buf *req, long series, long first, long n, int64_t start_ms)
{
    struct scry_buf ts = { 0 };
    char id[32];
    for (long i = 0; i < series; i++) {
        scry_buf_reset(&ts);
        snprintf(id, sizeof id, "%ld", i);
        label(&ts, "__name__", "crash_test");
        label(&ts, "series", id);
        for (long j = first; j < first + n; j++)
            sample(&ts, (double)i * 1e6 + (double)j, start_ms + j * 1000);
        bytes_field(req, 1, ts.p, ts.len);
    }
    scry_buf_fini(&ts);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) { return size * n; }

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: rwsend URL SERIES SAMPLES BATCH [START_MS]\n");
        return 2;
    }
    const char *url = argv[1];
    long series = atol(argv[2]), samples = atol(argv[3]), batch = atol(argv[4]);
    int64_t start_ms = argc > 5 ? strtoll(argv[5], NULL, 10) : 1700000000000;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/x-protobuf");
    h = curl_slist_append(h, "Content-Encoding: snappy");
    h = curl_slist_append(h, "X-Prometheus-Remote-Write-Version: 0.1.0");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    int rc = 0;
    struct scry_buf req = { 0 };
    for (long k = 0; k * batch < samples; k++) {
        long n = samples - k * batch < batch ? samples - k * batch : batch;
        scry_buf_reset(&req);
        request(&req, series, k * batch, n, start_ms);
        size_t clen = snappy_max_compressed_length(req.len);
        char *comp = malloc(clen);
        snappy_compress(req.p, req.len, comp, &clen);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, comp);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)clen);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        free(comp);
        if (cc != CURLE_OK || status / 100 != 2) {
            fprintf(stderr, "rwsend: request %ld: %s, HTTP %ld\n", k,
                    cc != CURLE_OK ? curl_easy_strerror(cc) : "rejected", status);
            rc = 1;
            break;
        }
        printf("ack %ld\n", k);
        fflush(stdout);
    }
    scry_buf_fini(&req);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc;
}
