/* gen_corpus_block.c — writes the seed corpus of fuzz_block.c: small valid
 * blocks (le32 index length, index, chunks). Not built by meson; rerun it
 * when the block format changes:
 *   cc -std=c11 -I. -Ibuild -o /tmp/gen_corpus_block tests/fuzz/gen_corpus_block.c \
 *      build/libscry.a $(pkg-config --libs liblz4 sqlite3 libpcre2-8) -lm \
 *      && /tmp/gen_corpus_block tests/fuzz/corpus/block */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsdb/block.h"
#include "tsdb/chunk.h"

struct src {
    int n, i, per;
    struct scry_label labs[4];
    char inst[16], mode[16];
    int64_t t[240];
    double v[240];
    uint8_t buf[2][96 + 36 * 120];
    struct tsdb_chunk_meta cm[2];
};

static int next(void *ud, struct tsdb_block_series *out, struct scry_err *err)
{
    struct src *s = ud;
    if (s->i >= s->n)
        return 0;
    int i = s->i++;
    static const char *modes[] = {"idle", "system", "user"};
    snprintf(s->inst, sizeof s->inst, "host-%03d", (i % ((s->n + 1) / 2)) / 3);
    snprintf(s->mode, sizeof s->mode, "%s", modes[(i % ((s->n + 1) / 2)) % 3]);
    s->labs[0] = (struct scry_label){"__name__", i >= (s->n + 1) / 2 ? "up" : "node_cpu"};
    s->labs[1] = (struct scry_label){"instance", s->inst};
    s->labs[2] = (struct scry_label){"job", "node"};
    s->labs[3] = (struct scry_label){"mode", s->mode};
    for (int k = 0; k < 2 * s->per; k++) {
        s->t[k] = 1000 + k * 15000 + (k % 7 == 0);
        s->v[k] = k % 3 == 0 ? 1.0 : k * 0.25;
    }
    size_t len;
    for (int c = 0; c < 2; c++) {
        if (tsdb_chunk_encode(s->t + c * s->per, s->v + c * s->per, (size_t)s->per,
                              TSDB_VENC_AUTO, s->buf[c], sizeof s->buf[c], &len, err))
            return -1;
        s->cm[c] = (struct tsdb_chunk_meta){s->t[c * s->per], s->t[c * s->per + s->per - 1],
                                            (uint32_t)s->per, s->buf[c], (uint32_t)len};
    }
    *out = (struct tsdb_block_series){.ls = {s->labs, 4}, .chunks = s->cm, .n_chunks = 2};
    return 1;
}

static const struct tsdb_block_source src_ops = {.next = next};

static void one(const char *out_dir, const char *name, int n, int per, int group, int raw)
{
    char tmp[] = "/tmp/gen_corpus_block_XXXXXX";
    if (!mkdtemp(tmp))
        exit(1);
    struct src s = {.n = n, .per = per};
    struct tsdb_block_write_opts o = {.group_size = (uint32_t)group, .no_compress = raw};
    char id[32];
    struct scry_err err;
    if (tsdb_block_write(tmp, &src_ops, &s, 0, 10000000, &o, id, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    char p[256];
    uint8_t *buf[2];
    size_t len[2];
    const char *files[] = {"index", "chunks"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s/%s", tmp, id, files[i]);
        FILE *f = fopen(p, "rb");
        fseek(f, 0, SEEK_END);
        len[i] = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        buf[i] = malloc(len[i]);
        if (fread(buf[i], 1, len[i], f) != len[i])
            exit(1);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/%s", out_dir, name);
    FILE *f = fopen(p, "wb");
    uint8_t k[4] = {(uint8_t)len[0], (uint8_t)(len[0] >> 8), (uint8_t)(len[0] >> 16), 0};
    fwrite(k, 1, 4, f);
    fwrite(buf[0], 1, len[0], f);
    fwrite(buf[1], 1, len[1], f);
    fclose(f);
    free(buf[0]);
    free(buf[1]);
    snprintf(p, sizeof p, "rm -rf %s", tmp);
    if (system(p))
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    one(argv[1], "tiny_raw", 2, 3, 1, 1);
    one(argv[1], "small_raw", 9, 10, 4, 1);
    one(argv[1], "small_lz4", 12, 30, 64, 0);
    one(argv[1], "medium_lz4", 30, 120, 8, 0);
    return 0;
}
