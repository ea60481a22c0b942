/* tombstones.c — intervals, tombstone tables, the tombstones file and the
 * iterator that skips deleted samples. See tombstones.h; the byte layout is
 * tsdb/FORMAT.md "tombstones file". */
#include "tsdb/tombstones.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "tsdb/chunk_internal.h"

#define MAGIC "STMB"
#define VERSION 1
#define HDR 8
#define MAX_IV_PER_SERIES (1u << 20)

/* ---- intervals ----------------------------------------------------------- */

void tsdb_intervals_add(struct tsdb_intervals *iv, int64_t mint, int64_t maxt)
{
    /* Find the run [lo, hi) of intervals that overlap or touch [mint, maxt]. */
    uint32_t lo = 0;
    while (lo < iv->n && iv->v[lo].maxt < mint && iv->v[lo].maxt + 1 < mint)
        lo++;
    uint32_t hi = lo;
    while (hi < iv->n && (iv->v[hi].mint <= maxt || iv->v[hi].mint - 1 <= maxt)) {
        if (iv->v[hi].mint < mint)
            mint = iv->v[hi].mint;
        if (iv->v[hi].maxt > maxt)
            maxt = iv->v[hi].maxt;
        hi++;
    }
    if (hi == lo) { /* insert at lo */
        if (iv->n == iv->cap) {
            iv->cap = iv->cap ? 2 * iv->cap : 2;
            iv->v = scry_realloc(iv->v, iv->cap * sizeof *iv->v);
        }
        memmove(iv->v + lo + 1, iv->v + lo, (iv->n - lo) * sizeof *iv->v);
        iv->n++;
    } else if (hi > lo + 1) {
        memmove(iv->v + lo + 1, iv->v + hi, (iv->n - hi) * sizeof *iv->v);
        iv->n -= hi - lo - 1;
    }
    iv->v[lo] = (struct tsdb_interval){ mint, maxt };
}

void tsdb_intervals_drop_below(struct tsdb_intervals *iv, int64_t mint)
{
    uint32_t k = 0;
    while (k < iv->n && iv->v[k].maxt < mint)
        k++;
    memmove(iv->v, iv->v + k, (iv->n - k) * sizeof *iv->v);
    iv->n -= k;
}

void tsdb_intervals_fini(struct tsdb_intervals *iv)
{
    free(iv->v);
    *iv = (struct tsdb_intervals){ 0 };
}

bool tsdb_intervals_cover(const struct tsdb_interval *v, size_t n, int64_t mint, int64_t maxt)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].mint <= mint && v[i].maxt >= maxt)
            return true;
    return false;
}

/* ---- tables --------------------------------------------------------------- */

static int cmp_stone(const void *pa, const void *pb)
{
    const struct tsdb_stone *a = pa, *b = pb;
    if (a->ref != b->ref)
        return a->ref < b->ref ? -1 : 1;
    return (a->mint > b->mint) - (a->mint < b->mint);
}

void tsdb_tombs_build(struct tsdb_tombs *out, struct tsdb_stone *s, size_t n)
{
    *out = (struct tsdb_tombs){ 0 };
    if (n == 0)
        return;
    qsort(s, n, sizeof *s, cmp_stone);
    out->refs = scry_malloc(n * sizeof *out->refs);
    out->first = scry_malloc((n + 1) * sizeof *out->first);
    out->iv = scry_malloc(n * sizeof *out->iv);
    for (size_t i = 0; i < n; i++) {
        if (!out->n_refs || out->refs[out->n_refs - 1] != s[i].ref) {
            out->first[out->n_refs] = (uint32_t)out->n_iv;
            out->refs[out->n_refs++] = s[i].ref;
        } else {
            /* Sorted by mint: merge into the last one if it overlaps or touches. */
            struct tsdb_interval *last = &out->iv[out->n_iv - 1];
            if (s[i].mint <= last->maxt || s[i].mint - 1 <= last->maxt) {
                if (s[i].maxt > last->maxt)
                    last->maxt = s[i].maxt;
                continue;
            }
        }
        out->iv[out->n_iv++] = (struct tsdb_interval){ s[i].mint, s[i].maxt };
    }
    out->first[out->n_refs] = (uint32_t)out->n_iv;
}

void tsdb_tombs_stones(const struct tsdb_tombs *t, struct tsdb_stone **v, size_t *n, size_t *cap)
{
    if (*n + t->n_iv > *cap) {
        *cap = (*n + t->n_iv) * 2 + 16;
        *v = scry_realloc(*v, *cap * sizeof **v);
    }
    for (size_t i = 0; i < t->n_refs; i++)
        for (uint32_t j = t->first[i]; j < t->first[i + 1]; j++)
            (*v)[(*n)++] = (struct tsdb_stone){ t->refs[i], t->iv[j].mint, t->iv[j].maxt };
}

const struct tsdb_interval *tsdb_tombs_get(const struct tsdb_tombs *t, uint64_t ref, size_t *n)
{
    size_t lo = 0, hi = t->n_refs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->refs[mid] < ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->n_refs || t->refs[lo] != ref) {
        *n = 0;
        return NULL;
    }
    *n = t->first[lo + 1] - t->first[lo];
    return t->iv + t->first[lo];
}

void tsdb_tombs_fini(struct tsdb_tombs *t)
{
    free(t->refs);
    free(t->first);
    free(t->iv);
    *t = (struct tsdb_tombs){ 0 };
}

/* ---- the file --------------------------------------------------------------- */

static void put_uvarint(struct scry_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    scry_buf_put(b, tmp, tsdb__put_uvarint(tmp, v));
}

static void put_le32(struct scry_buf *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    scry_buf_put(b, p, 4);
}

void tsdb_tombs_encode(const struct tsdb_tombs *t, struct scry_buf *out)
{
    size_t start = out->len;
    scry_buf_put(out, MAGIC, 4);
    scry_buf_put(out, (const uint8_t[]){ VERSION, 0, 0, 0 }, 4);
    put_uvarint(out, t->n_refs);
    for (size_t i = 0; i < t->n_refs; i++) {
        put_uvarint(out, i ? t->refs[i] - t->refs[i - 1] - 1 : t->refs[0]);
        put_uvarint(out, t->first[i + 1] - t->first[i]);
        for (uint32_t j = t->first[i]; j < t->first[i + 1]; j++) {
            const struct tsdb_interval *iv = &t->iv[j];
            if (j == t->first[i])
                put_uvarint(out, tsdb__zz(iv->mint));
            else
                put_uvarint(out, (uint64_t)iv->mint - (uint64_t)iv[-1].maxt - 2);
            put_uvarint(out, (uint64_t)iv->maxt - (uint64_t)iv->mint);
        }
    }
    put_le32(out, scry_crc32c(0, (const uint8_t *)out->p + start, out->len - start));
}

static int bad(struct scry_err *err, const uint8_t *base, const uint8_t *at, const char *what)
{
    size_t off = (size_t)(at - base);
    int rc = scry_err_set(err, SCRY_ECORRUPT, "%s at offset %zu", what, off);
    if (err)
        err->offset = off;
    return rc;
}

int tsdb_tombs_decode(const uint8_t *p, size_t len, uint64_t n_series, bool no_crc,
                      struct tsdb_tombs *out, struct scry_err *err)
{
    *out = (struct tsdb_tombs){ 0 };
    if (len < HDR + 1 + 4)
        return bad(err, p, p + len, "tombstones: file too short");
    if (memcmp(p, MAGIC, 4) || p[4] != VERSION || p[5] || p[6] || p[7])
        return bad(err, p, p, "tombstones: bad magic or version");
    const uint8_t *end = p + len - 4;
    uint32_t crc = (uint32_t)end[0] | (uint32_t)end[1] << 8 | (uint32_t)end[2] << 16 |
                   (uint32_t)end[3] << 24;
    if (!no_crc && scry_crc32c(0, p, len - 4) != crc)
        return bad(err, p, end, "tombstones: CRC mismatch");
    const uint8_t *q = p + HDR;
    uint64_t n_refs, v;
    if (tsdb__get_uvarint(&q, end, &n_refs) || n_refs > n_series ||
        n_refs > (uint64_t)(end - q) / 3)
        return bad(err, p, p + HDR, "tombstones: bad series count");
    out->refs = scry_malloc((n_refs ? n_refs : 1) * sizeof *out->refs);
    out->first = scry_malloc((n_refs + 1) * sizeof *out->first);
    size_t iv_cap = n_refs ? n_refs : 1;
    out->iv = scry_malloc(iv_cap * sizeof *out->iv);
    const uint8_t *at = q;
    for (uint64_t i = 0; i < n_refs; i++) {
        at = q;
        if (tsdb__get_uvarint(&q, end, &v))
            goto corrupt;
        uint64_t ref = v;
        if (i) {
            uint64_t prev = out->refs[i - 1];
            if (v >= n_series || prev + 1 + v < prev)
                goto corrupt;
            ref = prev + 1 + v;
        }
        if (ref >= n_series)
            goto corrupt;
        uint64_t n_iv;
        at = q;
        if (tsdb__get_uvarint(&q, end, &n_iv) || n_iv == 0 || n_iv > MAX_IV_PER_SERIES ||
            n_iv > (uint64_t)(end - q) / 2)
            goto corrupt;
        out->refs[i] = ref;
        out->first[i] = (uint32_t)out->n_iv;
        if (out->n_iv + n_iv > iv_cap) {
            iv_cap = (out->n_iv + n_iv) * 2;
            out->iv = scry_realloc(out->iv, iv_cap * sizeof *out->iv);
        }
        for (uint64_t j = 0; j < n_iv; j++) {
            uint64_t a, d;
            at = q;
            if (tsdb__get_uvarint(&q, end, &a) || tsdb__get_uvarint(&q, end, &d))
                goto corrupt;
            int64_t mint;
            if (j == 0) {
                mint = tsdb__unzz(a);
            } else {
                /* Unsigned arithmetic: the true values stay within ±2^63. */
                int64_t prev = out->iv[out->n_iv - 1].maxt;
                if (prev > TSDB_TOMBS_MAX_ABS_T - 2 ||
                    a > (uint64_t)TSDB_TOMBS_MAX_ABS_T - 2 - (uint64_t)prev)
                    goto corrupt;
                mint = (int64_t)((uint64_t)prev + 2 + a);
            }
            if (mint < -TSDB_TOMBS_MAX_ABS_T || mint > TSDB_TOMBS_MAX_ABS_T ||
                d > (uint64_t)TSDB_TOMBS_MAX_ABS_T - (uint64_t)mint)
                goto corrupt;
            out->iv[out->n_iv++] = (struct tsdb_interval){ mint, (int64_t)((uint64_t)mint + d) };
        }
        out->n_refs++;
    }
    out->first[out->n_refs] = (uint32_t)out->n_iv;
    if (q != end) {
        at = q;
        goto corrupt;
    }
    return 0;
corrupt:
    tsdb_tombs_fini(out);
    return bad(err, p, at, "tombstones: bad entry");
}

int tsdb_tombs_read_file(const char *dir, uint64_t n_series, struct tsdb_tombs *out,
                         struct scry_err *err)
{
    *out = (struct tsdb_tombs){ 0 };
    struct scry_buf path = { 0 }, data = { 0 };
    scry_buf_printf(&path, "%s/%s", dir, TSDB_TOMBS_FILE);
    int rc = 0;
    int fd = open(path.p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            rc = scry_err_sys(err, SCRY_EIO, "open %s", path.p);
        goto out;
    }
    for (;;) {
        scry_buf_reserve(&data, 65536);
        ssize_t r = read(fd, data.p + data.len, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = scry_err_sys(err, SCRY_EIO, "read %s", path.p);
            break;
        }
        if (r == 0)
            break;
        data.len += (size_t)r;
    }
    close(fd);
    if (!rc)
        rc = tsdb_tombs_decode((const uint8_t *)data.p, data.len, n_series, false, out, err);
    if (rc)
        scry_err_prefix(err, "%s", path.p);
out:
    scry_buf_fini(&path);
    scry_buf_fini(&data);
    return rc;
}

static int fsync_dir(const char *dir, struct scry_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "open %s", dir);
    int rc = fsync(fd);
    close(fd);
    return rc ? scry_err_sys(err, SCRY_EIO, "fsync %s", dir) : 0;
}

int tsdb_tombs_write_file(const char *dir, const struct tsdb_tombs *t, struct scry_err *err)
{
    struct scry_buf path = { 0 }, tmp = { 0 }, img = { 0 };
    scry_buf_printf(&path, "%s/%s", dir, TSDB_TOMBS_FILE);
    scry_buf_printf(&tmp, "%s/%s.tmp", dir, TSDB_TOMBS_FILE);
    int rc = 0;
    if (t->n_refs == 0) {
        if (unlink(path.p) && errno != ENOENT)
            rc = scry_err_sys(err, SCRY_EIO, "unlink %s", path.p);
        goto sync;
    }
    tsdb_tombs_encode(t, &img);
    int fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = scry_err_sys(err, SCRY_EIO, "create %s", tmp.p);
        goto out;
    }
    for (size_t off = 0; off < img.len && !rc;) {
        ssize_t w = write(fd, img.p + off, img.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = scry_err_sys(err, SCRY_EIO, "write %s", tmp.p);
        else
            off += (size_t)w;
    }
    if (!rc && fsync(fd))
        rc = scry_err_sys(err, SCRY_EIO, "fsync %s", tmp.p);
    if (close(fd) && !rc)
        rc = scry_err_sys(err, SCRY_EIO, "close %s", tmp.p);
    if (!rc && rename(tmp.p, path.p))
        rc = scry_err_sys(err, SCRY_EIO, "rename %s", tmp.p);
    if (rc)
        unlink(tmp.p);
sync:
    if (!rc)
        rc = fsync_dir(dir, err);
out:
    scry_buf_fini(&path);
    scry_buf_fini(&tmp);
    scry_buf_fini(&img);
    return rc;
}

/* ---- the iterator ----------------------------------------------------------- */

static bool di_next(struct scry_sample_iter *base)
{
    struct tsdb_del_iter *it = (struct tsdb_del_iter *)base;
    int64_t t;
    double v;
    while (it->in->ops->next(it->in)) {
        it->in->ops->at(it->in, &t, &v);
        if (!tsdb_intervals_skip(it->v, it->n, &it->i, t))
            return true;
    }
    return false;
}

static bool di_seek(struct scry_sample_iter *base, int64_t t_ms)
{
    struct tsdb_del_iter *it = (struct tsdb_del_iter *)base;
    if (!it->in->ops->seek(it->in, t_ms))
        return false;
    int64_t t;
    double v;
    it->in->ops->at(it->in, &t, &v);
    if (!tsdb_intervals_skip(it->v, it->n, &it->i, t))
        return true;
    return di_next(base);
}

static void di_at(const struct scry_sample_iter *base, int64_t *t, double *v)
{
    const struct tsdb_del_iter *it = (const struct tsdb_del_iter *)base;
    it->in->ops->at(it->in, t, v);
}

static int di_err(const struct scry_sample_iter *base, struct scry_err *err)
{
    const struct tsdb_del_iter *it = (const struct tsdb_del_iter *)base;
    return it->in->ops->err(it->in, err);
}

static const struct scry_sample_iter_ops di_ops = {
    .next = di_next, .seek = di_seek, .at = di_at, .err = di_err,
};

void tsdb_del_iter_init(struct tsdb_del_iter *it, struct scry_sample_iter *in,
                        const struct tsdb_interval *v, size_t n)
{
    *it = (struct tsdb_del_iter){ .base.ops = &di_ops, .in = in, .v = v, .n = n };
}
