/* gen_corpus_chunk.c — writes the seed corpus of fuzz_chunk.c: valid chunks
 * of each value encoding, jittered and extreme timestamps, escapes. Not built
 * by meson; rerun it when the chunk format changes:
 *   cc -std=c11 -I. -Ibuild -o /tmp/gen_corpus_chunk tests/fuzz/gen_corpus_chunk.c \
 *      build/libscry.a -lm && /tmp/gen_corpus_chunk tests/fuzz/corpus/chunk */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tsdb/chunk.h"
static const char *dir;

static void put(const char *name, const int64_t *t, const double *v, size_t n, int venc)
{
    static uint8_t buf[96 + 36 * TSDB_CHUNK_MAX_SAMPLES];
    size_t len;
    if (tsdb_chunk_encode(t, v, n, venc, buf, sizeof buf, &len, NULL)) { fprintf(stderr, "fail %s\n", name); return; }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb"); fwrite(buf, 1, len, f); fclose(f);
}
int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gen_corpus_chunk DIR\n"); return 2; }
    dir = argv[1];
    int64_t t[120]; double v[120]; uint64_t stale = 0x7ff0000000000002ull;
    for (int i = 0; i < 120; i++) { t[i] = 1764000000000 + i * 15000; v[i] = 1; }
    put("const_up", t, v, 120, -1);
    for (int i = 0; i < 120; i++) v[i] = 0.0002 * exp(sin(i));
    put("bits_floats", t, v, 120, -1);
    put("xor_floats", t, v, 120, 1);
    for (int i = 0; i < 120; i++) v[i] = (double)(123456 + i * 37 + (i * i) % 13) / 100;
    put("dec_counter", t, v, 120, -1);
    memcpy(&v[50], &stale, 8); v[0] = -0.0; v[119] = INFINITY;
    put("dec_escapes", t, v, 120, 2);
    for (int i = 0; i < 120; i++) { t[i] = 1764000000000 + i * 15000 + (i * 7) % 5 - 2; v[i] = (double)((i % 7) * 4096); }
    put("dec_jitter_gcd", t, v, 120, -1);
    put("xor_jitter", t, v, 120, 1);
    int64_t te[4] = {INT64_MIN, -1, 0, INT64_MAX}; double ve[4] = {NAN, -INFINITY, 1e300, 5e-324};
    put("xor_extremes", te, ve, 4, -1);
    put("one_sample", te, ve, 1, -1);
    return 0;
}
