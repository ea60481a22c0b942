/* wal.h — a segmented write-ahead log of typed, CRC-checked records.
 *
 * Generic: core/ frames and checksums records, rotates segments, fsyncs by
 * policy, replays, and keeps checkpoints; what a record means is the user's
 * (tsdb/wal_record.h, later logstore/). The byte layout is in
 * tsdb/FORMAT.md, "WAL".
 *
 * Lifecycle: on start, scry_wal_replay(dir) (repairs a torn tail), then
 * scry_wal_open(dir) (takes the directory's LOCK, starts a new segment);
 * after a successful open you must scry_wal_close. Records: scry_wal_append
 * any number, then scry_wal_commit. After a checkpoint covering segment N is
 * committed, scry_wal_truncate_before(wal, N + 1) deletes what it covers.
 *
 * Durability of a successful scry_wal_commit (the 2xx promise):
 *   every policy  the records are in the kernel (write(2) returned), so they
 *                 survive kill -9 of the process;
 *   ALWAYS        also fsynced before commit returns: they survive power loss.
 *                 Concurrent committers share fsyncs (group commit);
 *   INTERVAL      a background thread fsyncs every fsync_interval_ms (<= 1 s);
 *   NEVER         the kernel writes back when it likes.
 *
 * Errors: an I/O failure (write, fsync, rotation) is sticky. The batch that
 * failed is cut back off the file when possible, its committers and every
 * later commit/append get SCRY_EIO with the first errno and message; close
 * and reopen to continue. Records acknowledged before the failure stay.
 *
 * Thread-safety: append, commit, cut, truncate_before and stats may be called
 * from any threads concurrently; open/close not. Replay and the checkpoint
 * functions take a directory, not a handle: replay with repair must not run
 * while a writer has the directory open.
 *
 * Throughput, one record per commit (bench/walbench.c; 2-core VM, ext4 on
 * virtio, fsync 0.3–4 ms and noisy): NEVER and INTERVAL 300–550 k commits/s
 * with 100-byte records (one write(2) each: the syscall is the cost, the
 * mutex is not), ~250–370 MB/s with 2.7 KB records (a 500-sample scrape);
 * ALWAYS is bound by the disk, 1 fsync per commit with one thread, 4.2
 * commits per fsync with 8 threads (5.5 k commits/s where one thread got
 * 0.9 k). */
#ifndef SCRY_CORE_WAL_H
#define SCRY_CORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h" /* enum scry_wal_fsync */
#include "core/err.h"

#define SCRY_WAL_SEGMENT_HEADER_BYTES 8
#define SCRY_WAL_RECORD_HEADER_BYTES 9
#define SCRY_WAL_RECORD_MAX_BYTES (64u << 20)
#define SCRY_WAL_SEGMENT_DEFAULT_BYTES (128u << 20)
#define SCRY_WAL_SEGMENT_MIN_BYTES 1024u

struct scry_wal;

struct scry_wal_opts {
    uint64_t segment_bytes;      /* 0 → 128 MiB; at least SCRY_WAL_SEGMENT_MIN_BYTES */
    enum scry_wal_fsync fsync;   /* default (0) INTERVAL */
    int64_t fsync_interval_ms;   /* INTERVAL only; 0 → 1000; 1..1000 */
    /* Test hooks for fault injection; NULL → write(2) / fsync(2). They must
     * behave like the syscalls (return -1 and set errno on failure). */
    ssize_t (*write_fn)(int fd, const void *p, size_t len, void *ud);
    int (*fsync_fn)(int fd, void *ud);
    void *io_ud;
};

struct scry_wal_stats {
    uint64_t records, record_bytes; /* appended, payload + headers */
    uint64_t commits;               /* calls to scry_wal_commit that returned 0 */
    uint64_t writes, fsyncs;        /* write(2) batches, fsync(2) calls */
    uint32_t segment;               /* the segment being written */
    uint32_t first_segment;         /* oldest segment still on disk */
};

/* Opens (creating dir and parents' last level if missing) and starts a new
 * segment after the last one, after truncating a torn tail of the last
 * segment. SCRY_EEXIST when another writer holds the LOCK; SCRY_EINVAL for
 * bad opts; SCRY_EIO with errno. *out is only written on success. */
int scry_wal_open(struct scry_wal **out, const char *dir, const struct scry_wal_opts *opts,
                  struct scry_err *err);
/* Writes and fsyncs (unless NEVER) what was appended, stops the fsync
 * thread, releases the LOCK, frees. NULL is a no-op. Returns the first error
 * (the WAL is freed in any case). */
int scry_wal_close(struct scry_wal *wal, struct scry_err *err);

/* Buffers one record (type 1..255, len <= SCRY_WAL_RECORD_MAX_BYTES; the
 * payload is copied). Nothing is durable until scry_wal_commit. */
int scry_wal_append(struct scry_wal *wal, uint8_t type, const void *payload, size_t len,
                    struct scry_err *err);
/* Makes every record appended so far, by any thread, durable according to
 * the policy (see above). Returns 0 or SCRY_EIO. */
int scry_wal_commit(struct scry_wal *wal, struct scry_err *err);
/* Commits, closes the current segment and starts the next; *closed (may be
 * NULL) gets the number of the segment closed, the N for a checkpoint. */
int scry_wal_cut(struct scry_wal *wal, uint32_t *closed, struct scry_err *err);
/* Deletes segments numbered below segment (never the one being written). */
int scry_wal_truncate_before(struct scry_wal *wal, uint32_t segment, struct scry_err *err);
void scry_wal_stats(struct scry_wal *wal, struct scry_wal_stats *out);

/* The segment numbers in dir, ascending, in a malloc'd array (free() it; NULL
 * when *n == 0). A missing dir is 0 segments. */
int scry_wal_segments(const char *dir, uint32_t **out, size_t *n, struct scry_err *err);

/* ---- replay ---- */

struct scry_wal_pos {
    uint32_t segment;  /* segment number; inside a checkpoint, its own numbering */
    uint64_t offset;   /* byte offset of the record header in that file */
    bool checkpoint;   /* the record comes from checkpoint.N */
};

struct scry_wal_replay_stats {
    uint32_t checkpoint;              /* N of the checkpoint read, 0 if none */
    uint32_t segments_total, segments_done; /* checkpoint segments included */
    uint64_t bytes_total, bytes_done;
    uint64_t records, checkpoint_records;
    /* A torn tail that was cut off (torn_bytes > 0 or torn_segment != 0). */
    uint32_t torn_segment;
    uint64_t torn_offset, torn_bytes;
    /* Corruption that stopped the replay (or was skipped, see skip_corrupt). */
    uint32_t corrupt_segments, corrupt_segment;
    uint64_t corrupt_offset;
};

/* payload points into a read-only mapping valid only during the call. A
 * nonzero return stops the replay, which returns that value. */
typedef int (*scry_wal_record_fn)(void *ud, uint8_t type, const void *payload, size_t len,
                                  const struct scry_wal_pos *pos);
/* Called after each segment (and at the end); for logs and self-metrics. */
typedef void (*scry_wal_progress_fn)(void *ud, const struct scry_wal_replay_stats *st);

struct scry_wal_replay_opts {
    scry_wal_record_fn on_record;     /* may be NULL: only check and repair */
    scry_wal_progress_fn on_progress; /* may be NULL */
    void *ud;
    /* 0: every segment, and a torn tail of the last is cut off. N: only the
     * checkpoint and segments <= N (to build checkpoint N); nothing is
     * repaired, a bad record anywhere is corruption. */
    uint32_t last_segment;
    /* 0: from the checkpoint on. N: skip the checkpoint and segments below
     * N (a reader that knows where its data starts, e.g. the agent's queue
     * reading back a backlog); with last_segment set, this may run beside
     * the writer. */
    uint32_t first_segment;
    /* false: stop at the first corruption. true: skip the rest of a corrupt
     * segment and go on with the next; the return is still SCRY_ECORRUPT
     * (err names the first corruption), but every readable record was
     * delivered — the choice of a server that prefers availability. */
    bool skip_corrupt;
};

/* Replays dir: the newest checkpoint, then the segments after it, in order.
 * A torn tail of the last segment is cut off and reported in *stats (may be
 * NULL), not an error. Corruption: SCRY_ECORRUPT, err->msg names the file
 * and byte offset (also err->offset and stats), every record before it was
 * delivered. A missing dir replays nothing. */
int scry_wal_replay(const char *dir, const struct scry_wal_replay_opts *opts,
                    struct scry_wal_replay_stats *stats, struct scry_err *err);

/* ---- checkpoints ---- */

struct scry_wal_checkpoint;

/* Starts checkpoint.<upto>.tmp in dir, to hold what the caller keeps of the
 * previous checkpoint and segments <= upto (typically read with
 * scry_wal_replay, last_segment = upto, after scry_wal_cut gave upto). */
int scry_wal_checkpoint_begin(struct scry_wal_checkpoint **out, const char *dir, uint32_t upto,
                              struct scry_err *err);
int scry_wal_checkpoint_append(struct scry_wal_checkpoint *cp, uint8_t type, const void *payload,
                               size_t len, struct scry_err *err);
/* Fsyncs, renames to checkpoint.<upto>, deletes older checkpoints; frees cp
 * whatever the result (on failure the temporary directory is removed). */
int scry_wal_checkpoint_commit(struct scry_wal_checkpoint *cp, struct scry_err *err);
/* Abandons and removes the temporary directory; frees cp. NULL is a no-op. */
void scry_wal_checkpoint_rollback(struct scry_wal_checkpoint *cp);

#endif
