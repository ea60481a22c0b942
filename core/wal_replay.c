/* wal_replay.c — reading WAL segments: listing, scanning, tail repair, replay.
 *
 * A segment is mmapped read-only and walked record by record; payloads are
 * handed to the callback as pointers into the mapping, so replay copies
 * nothing (a 128 MiB segment costs its page cache, not a heap buffer). What
 * counts as a torn tail versus corruption is defined in tsdb/FORMAT.md
 * ("Reading, torn tails and corruption"); classify() is that paragraph. */
#include "core/wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/mem.h"
#include "core/wal_internal.h"

static const uint8_t magic[4] = { 'S', 'W', 'A', 'L' };

/* ---- shared helpers ---- */

void scry__wal_segment_header(uint8_t out[SCRY_WAL_SEGMENT_HEADER_BYTES])
{
    memset(out, 0, SCRY_WAL_SEGMENT_HEADER_BYTES);
    memcpy(out, magic, 4);
    out[4] = SCRY__WAL_VERSION;
}

void scry__wal_record_header(uint8_t out[SCRY_WAL_RECORD_HEADER_BYTES], uint8_t type,
                             const void *payload, uint32_t len)
{
    assert(type != 0 && len <= SCRY_WAL_RECORD_MAX_BYTES);
    out[0] = type;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(len >> (8 * i));
    uint32_t crc = scry_crc32c(scry_crc32c(0, out, 5), payload, len);
    for (int i = 0; i < 4; i++)
        out[5 + i] = (uint8_t)(crc >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int scry__wal_segment_path(char *out, const char *dir, uint32_t no, struct scry_err *err)
{
    if (snprintf(out, SCRY__WAL_NAME_MAX, "%s/%08u", dir, no) >= SCRY__WAL_NAME_MAX)
        return scry_err_set(err, SCRY_EINVAL, "wal: path too long: %s", dir);
    return 0;
}

static bool parse_digits(const char *z, size_t n, uint32_t *no)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (z[i] < '0' || z[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(z[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *no = (uint32_t)v;
    return true;
}

bool scry__wal_parse_segment_name(const char *name, uint32_t *no)
{
    return strlen(name) == 8 && parse_digits(name, 8, no);
}

bool scry__wal_parse_checkpoint_name(const char *name, uint32_t *no)
{
    return strlen(name) == 19 && memcmp(name, "checkpoint.", 11) == 0 &&
           parse_digits(name + 11, 8, no);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int scry__wal_list(const char *dir, bool checkpoints, uint32_t **out, size_t *n,
                  struct scry_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : scry_err_sys(err, SCRY_EIO, "wal: open dir %s", dir);
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t no;
        bool ok = checkpoints ? scry__wal_parse_checkpoint_name(e->d_name, &no)
                              : scry__wal_parse_segment_name(e->d_name, &no);
        if (!ok)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = scry_realloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = no;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_u32);
    return 0;
}

int scry_wal_segments(const char *dir, uint32_t **out, size_t *n, struct scry_err *err)
{
    if (!dir || !out || !n)
        return scry_err_set(err, SCRY_EINVAL, "wal segments: bad arguments");
    return scry__wal_list(dir, false, out, n, err);
}

int scry__wal_last_checkpoint(const char *dir, uint32_t *no, struct scry_err *err)
{
    uint32_t *cps;
    size_t n;
    int rc = scry__wal_list(dir, true, &cps, &n, err);
    *no = rc == 0 && n ? cps[n - 1] : 0;
    free(cps);
    return rc;
}

int scry__wal_fsync_dir(const char *dir, struct scry_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "wal: open dir %s", dir);
    int rc = fsync(fd) == 0 ? 0 : scry_err_sys(err, SCRY_EIO, "wal: fsync dir %s", dir);
    close(fd);
    return rc;
}

int scry__wal_remove_dir(const char *dir, struct scry_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : scry_err_sys(err, SCRY_EIO, "wal: open dir %s", dir);
    struct dirent *e;
    char path[SCRY__WAL_NAME_MAX];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    if (rmdir(dir) != 0)
        return scry_err_sys(err, SCRY_EIO, "wal: remove %s", dir);
    return 0;
}

/* ---- scanning one segment ---- */

enum verdict { REC_OK, REC_TORN, REC_CORRUPT };

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Judges the record at off; *why names the problem for messages. */
static enum verdict classify(const uint8_t *p, size_t size, size_t off, const char **why)
{
    assert(off < size);
    size_t rem = size - off;
    if (rem < SCRY_WAL_RECORD_HEADER_BYTES) {
        *why = "record header cut short";
        return REC_TORN;
    }
    uint32_t len = get32(p + off + 1);
    if ((uint64_t)len > rem - SCRY_WAL_RECORD_HEADER_BYTES) {
        *why = "record extends past end of file";
        return REC_TORN;
    }
    size_t end = off + SCRY_WAL_RECORD_HEADER_BYTES + len;
    bool bad = true;
    if (p[off] == 0)
        *why = "record type 0";
    else if (len > SCRY_WAL_RECORD_MAX_BYTES)
        *why = "record length over the maximum";
    else if (scry_crc32c(scry_crc32c(0, p + off, 5), p + off + 9, len) != get32(p + off + 5))
        *why = "record crc mismatch";
    else
        bad = false;
    if (!bad)
        return REC_OK;
    return end == size || all_zero(p + off, rem) ? REC_TORN : REC_CORRUPT;
}

struct scan {
    const char *path;
    uint32_t no;
    bool last;      /* the last segment of a repairing replay: torn tails are cut */
    bool checkpoint;
    const struct scry_wal_replay_opts *o;
    struct scry_wal_replay_stats *st;
};

static int corrupt(struct scan *s, size_t off, const char *why, struct scry_err *err)
{
    s->st->corrupt_segments++;
    if (s->st->corrupt_segments == 1) {
        s->st->corrupt_segment = s->no;
        s->st->corrupt_offset = off;
    }
    scry_err_set(err, SCRY_ECORRUPT, "wal segment %s: offset %zu: %s", s->path, off, why);
    if (err)
        err->offset = off;
    return SCRY_ECORRUPT;
}

static int cut_tail(struct scan *s, int fd, size_t off, size_t size, struct scry_err *err)
{
    assert(off < size || size == 0 || off == size);
    if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
        return scry_err_sys(err, SCRY_EIO, "wal: truncate torn tail of %s at %zu", s->path, off);
    s->st->torn_segment = s->no;
    s->st->torn_offset = off;
    s->st->torn_bytes = size - off;
    return 0;
}

/* Walks the records of p[0..size). Returns 0 having delivered them all, the
 * callback's nonzero value, SCRY_ECORRUPT, or sets *torn_at for the caller
 * to cut (only when s->last). */
static int walk(struct scan *s, const uint8_t *p, size_t size, size_t *torn_at,
                struct scry_err *err)
{
    const char *why = "";
    *torn_at = SIZE_MAX;
    if (size < SCRY_WAL_SEGMENT_HEADER_BYTES || memcmp(p, magic, 4) != 0 ||
        p[4] != SCRY__WAL_VERSION) {
        if (s->last && (size < SCRY_WAL_SEGMENT_HEADER_BYTES || all_zero(p, size))) {
            *torn_at = 0;
            return 0;
        }
        return corrupt(s, 0, size < 8 ? "segment header cut short" : "bad segment magic or version",
                       err);
    }
    size_t off = SCRY_WAL_SEGMENT_HEADER_BYTES;
    while (off < size) {
        enum verdict v = classify(p, size, off, &why);
        if (v == REC_TORN && s->last) {
            *torn_at = off;
            return 0;
        }
        if (v != REC_OK)
            return corrupt(s, off, why, err);
        uint32_t len = get32(p + off + 1);
        assert(off + SCRY_WAL_RECORD_HEADER_BYTES + len <= size); /* classify checked it */
        struct scry_wal_pos pos = { .segment = s->no, .offset = off, .checkpoint = s->checkpoint };
        if (s->checkpoint)
            s->st->checkpoint_records++;
        else
            s->st->records++;
        if (s->o->on_record) {
            int rc = s->o->on_record(s->o->ud, p[off], p + off + 9, len, &pos);
            if (rc)
                return rc;
        }
        off += SCRY_WAL_RECORD_HEADER_BYTES + len;
    }
    assert(off == size);
    return 0;
}

static int scan_segment(struct scan *s, struct scry_err *err)
{
    int fd = open(s->path, (s->last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return scry_err_sys(err, SCRY_EIO, "wal: open %s", s->path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int rc = scry_err_sys(err, SCRY_EIO, "wal: stat %s", s->path);
        close(fd);
        return rc;
    }
    size_t size = (size_t)sb.st_size;
    int rc = 0;
    size_t torn_at = SIZE_MAX;
    if (size > 0) { /* an empty segment: a crash right after create; nothing in it */
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = scry_err_sys(err, SCRY_EIO, "wal: mmap %s", s->path);
            close(fd);
            return rc;
        }
        rc = walk(s, m, size, &torn_at, err);
        munmap(m, size);
    }
    if (rc == 0 && torn_at != SIZE_MAX)
        rc = cut_tail(s, fd, torn_at, size, err);
    s->st->bytes_done += size;
    close(fd);
    return rc;
}

int scry__wal_repair_tail(const char *path, uint64_t *torn_bytes, struct scry_err *err)
{
    struct scry_wal_replay_opts o = { 0 };
    struct scry_wal_replay_stats st = { 0 };
    struct scan s = { .path = path, .last = true, .o = &o, .st = &st };
    int rc = scan_segment(&s, err);
    *torn_bytes = st.torn_bytes;
    if (rc == SCRY_ECORRUPT) {
        scry_err_clear(err);
        rc = 0; /* not ours to judge at open: replay reports it */
    }
    return rc;
}

/* ---- replay ---- */

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

struct plan {
    char cpdir[SCRY__WAL_NAME_MAX];
    uint32_t *cpsegs, *segs;
    size_t n_cpsegs, n_segs; /* segs: only those after the checkpoint */
};

static int make_plan(const char *dir, const struct scry_wal_replay_opts *o, struct plan *pl,
                     struct scry_wal_replay_stats *st, struct scry_err *err)
{
    uint32_t cp;
    int rc = scry__wal_last_checkpoint(dir, &cp, err);
    if (o->first_segment)
        cp = 0; /* the caller starts past any checkpoint */
    if (rc == 0 && o->last_segment && cp > o->last_segment)
        rc = scry_err_set(err, SCRY_EINVAL, "wal %s: checkpoint %u is past segment %u", dir, cp,
                          o->last_segment);
    if (rc == 0 && cp) {
        st->checkpoint = cp;
        snprintf(pl->cpdir, sizeof pl->cpdir, "%s/checkpoint.%08u", dir, cp);
        rc = scry__wal_list(pl->cpdir, false, &pl->cpsegs, &pl->n_cpsegs, err);
    }
    if (rc == 0)
        rc = scry__wal_list(dir, false, &pl->segs, &pl->n_segs, err);
    if (rc)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < pl->n_segs; i++)
        if (pl->segs[i] > cp && pl->segs[i] >= o->first_segment &&
            (!o->last_segment || pl->segs[i] <= o->last_segment))
            pl->segs[k++] = pl->segs[i];
    pl->n_segs = k;
    char path[SCRY__WAL_NAME_MAX];
    for (size_t i = 0; i < pl->n_cpsegs; i++)
        if (scry__wal_segment_path(path, pl->cpdir, pl->cpsegs[i], NULL) == 0)
            st->bytes_total += file_size(path);
    for (size_t i = 0; i < pl->n_segs; i++)
        if (scry__wal_segment_path(path, dir, pl->segs[i], NULL) == 0)
            st->bytes_total += file_size(path);
    st->segments_total = (uint32_t)(pl->n_cpsegs + pl->n_segs);
    return 0;
}

/* Reads segments[0..n) of dir in order, checking they are contiguous from
 * `first` (0: any start). */
static int run(const char *dir, const uint32_t *segs, size_t n, uint32_t first, bool checkpoint,
               bool repair, const struct scry_wal_replay_opts *o, struct scry_wal_replay_stats *st,
               struct scry_err *err)
{
    int first_rc = 0;
    char path[SCRY__WAL_NAME_MAX];
    for (size_t i = 0; i < n; i++) {
        assert(i == 0 || segs[i] > segs[i - 1]); /* sorted, names unique */
        uint32_t want = i ? segs[i - 1] + 1 : first;
        if ((i || first || checkpoint) && segs[i] != want) {
            struct scan gap = { .path = path, .no = want, .o = o, .st = st };
            snprintf(path, sizeof path, "%s/%08u", dir, want);
            int rc = corrupt(&gap, 0, "segment missing", err);
            if (!o->skip_corrupt)
                return rc;
            first_rc = first_rc ? first_rc : rc;
        }
        int rc = scry__wal_segment_path(path, dir, segs[i], err);
        if (rc)
            return rc;
        struct scan s = { .path = path, .no = segs[i], .last = repair && i == n - 1,
                          .checkpoint = checkpoint, .o = o, .st = st };
        struct scry_err e2 = { 0 };
        rc = scan_segment(&s, first_rc ? &e2 : err); /* err keeps the first corruption */
        st->segments_done++;
        if (o->on_progress)
            o->on_progress(o->ud, st);
        if (rc == SCRY_ECORRUPT && o->skip_corrupt) {
            first_rc = first_rc ? first_rc : rc;
            continue;
        }
        if (rc)
            return rc;
    }
    return first_rc;
}

int scry_wal_replay(const char *dir, const struct scry_wal_replay_opts *opts,
                    struct scry_wal_replay_stats *stats, struct scry_err *err)
{
    if (!dir || !opts)
        return scry_err_set(err, SCRY_EINVAL, "wal replay: bad arguments");
    struct scry_wal_replay_stats local;
    struct scry_wal_replay_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    struct plan pl = { 0 };
    int rc = make_plan(dir, opts, &pl, st, err);
    int rc2 = 0;
    if (rc == 0 && pl.n_cpsegs)
        rc = run(pl.cpdir, pl.cpsegs, pl.n_cpsegs, 0, true, false, opts, st, err);
    if (rc == SCRY_ECORRUPT && opts->skip_corrupt) {
        rc2 = rc;
        rc = 0;
    }
    if (rc == 0) {
        struct scry_err e2 = { 0 };
        rc = run(dir, pl.segs, pl.n_segs, st->checkpoint ? st->checkpoint + 1 : 0, false,
                 opts->last_segment == 0, opts, st, rc2 ? &e2 : err);
        if (rc == 0 || (rc2 && rc == SCRY_ECORRUPT))
            rc = rc2 ? rc2 : rc;
    }
    if (rc == 0 && opts->on_progress)
        opts->on_progress(opts->ud, st);
    free(pl.cpsegs);
    free(pl.segs);
    return rc;
}
