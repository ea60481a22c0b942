/* Shared by core/wal's unit tests (test_wal.c, test_wal_durability.c):
 * temporary directories, numbered records that check themselves, replay
 * into a list, file helpers. Include after <cmocka.h>. */
#ifndef SCRY_TEST_WAL_FIXTURE_H
#define SCRY_TEST_WAL_FIXTURE_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/wal.h"

static inline int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline char *tmpdir(void)
{
    char *d = strdup("/tmp/scry-test-wal-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline char *waldir(const char *root)
{
    char *p = malloc(strlen(root) + 8);
    sprintf(p, "%s/wal", root);
    return p;
}

struct rec {
    uint8_t type;
    size_t len;
    uint8_t *p;
    struct scry_wal_pos pos;
};

struct got {
    struct rec *v;
    size_t n, cap;
    int progress_calls;
    struct scry_wal_replay_stats last_progress;
};

static inline int collect(void *ud, uint8_t type, const void *payload, size_t len,
                   const struct scry_wal_pos *pos)
{
    struct got *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
    }
    struct rec *r = &g->v[g->n++];
    r->type = type;
    r->len = len;
    r->p = malloc(len ? len : 1);
    memcpy(r->p, payload, len);
    r->pos = *pos;
    return 0;
}

static inline void progress(void *ud, const struct scry_wal_replay_stats *st)
{
    struct got *g = ud;
    g->progress_calls++;
    g->last_progress = *st;
}

static inline void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].p);
    free(g->v);
    memset(g, 0, sizeof *g);
}

static inline int replay(const char *dir, struct got *g, struct scry_wal_replay_stats *st,
                  struct scry_err *err)
{
    struct scry_wal_replay_opts o = { .on_record = collect, .on_progress = progress, .ud = g };
    return scry_wal_replay(dir, &o, st, err);
}

/* Record i: type 1 + i % 3, length i % 150, bytes derived from i. */
static inline size_t make_rec(uint32_t i, uint8_t *buf, uint8_t *type)
{
    size_t len = i % 150;
    *type = (uint8_t)(1 + i % 3);
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k);
    if (len >= 4)
        memcpy(buf, &i, 4);
    return len;
}

static inline void append_rec(struct scry_wal *w, uint32_t i)
{
    uint8_t buf[160], type;
    size_t len = make_rec(i, buf, &type);
    struct scry_err err = { 0 };
    assert_int_equal(scry_wal_append(w, type, buf, len, &err), 0);
}

static inline void check_rec(const struct rec *r, uint32_t i)
{
    uint8_t buf[160], type;
    size_t len = make_rec(i, buf, &type);
    assert_int_equal(r->type, type);
    assert_int_equal(r->len, len);
    assert_memory_equal(r->p, buf, len);
}

static inline struct scry_wal *open_wal(const char *dir, uint64_t seg_bytes, enum scry_wal_fsync fs)
{
    struct scry_wal_opts o = { .segment_bytes = seg_bytes, .fsync = fs };
    struct scry_wal *w = NULL;
    struct scry_err err = { 0 };
    int rc = scry_wal_open(&w, dir, &o, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return w;
}

static inline void write_n(const char *dir, uint32_t from, uint32_t to, uint64_t seg_bytes)
{
    struct scry_wal *w = open_wal(dir, seg_bytes, SCRY_WAL_FSYNC_NEVER);
    for (uint32_t i = from; i < to; i++) {
        append_rec(w, i);
        if (i % 7 == 0)
            assert_int_equal(scry_wal_commit(w, NULL), 0);
    }
    assert_int_equal(scry_wal_close(w, NULL), 0);
}

static inline uint64_t fsize(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

static inline uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len + 1);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static inline void spit(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}


#endif
