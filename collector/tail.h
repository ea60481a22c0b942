/* tail.h — tailing log files into the log store (the `logs:` section).
 *
 * A tail manager owns one thread. It expands the configured globs (again
 * every rescan interval and on inotify directory events), follows each file
 * from its checkpoint in the catalog (table `tail_positions`, component
 * "tail"), cuts the bytes into records and appends them through an
 * appendable (core/appender.h). Rotation by rename and by copytruncate,
 * new and deleted files are followed; a `kill -9` at any point neither
 * loses nor repeats a line: collector/README.md "Tailing" gives the
 * argument.
 *
 *     struct col_tail_opts o = { .appendable = &s->log_ingest,
 *                                .catalog_path = "data/catalog.db", ... };
 *     col_tail_manager_create(&o, &m, &err);
 *     col_tail_manager_apply_config(m, cfg, &err);   also on every reload
 *     ...
 *     col_tail_manager_destroy(m);                   before the store closes
 *
 * The record assembler (col_tail_lines) is public for tests: bytes in,
 * records out, with line splitting, multiline joining, truncation and
 * UTF-8 repair. */
#ifndef SCRY_COLLECTOR_TAIL_H
#define SCRY_COLLECTOR_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

/* ---- the manager ---- */

struct col_tail_manager;

/* A checkpoint row (collector/README.md "Tailing"): records before off are
 * delivered; the first record at off gets next_t_ns when pinned. */
struct col_tail_position {
    uint64_t dev, ino;
    const char *path;
    uint64_t fp;
    int64_t fp_len, off, next_t_ns, last_t_ns;
    bool pinned;
};

/* Called in the tail thread during a round that has records: first with
 * written = false and the rows the round will checkpoint, just before the
 * appender's commit; then, if the commit succeeded, with written = true
 * (p NULL, n 0) once the checkpoints are in the catalog. The agent's
 * forwarder spools the rows with the batch (collector/loki_send.h). */
typedef void (*col_tail_checkpoint_fn)(void *ud, const struct col_tail_position *p, size_t n,
                                       bool written);

struct col_tail_opts {
    struct scry_appendable *appendable; /* borrowed; begin may fail (retried) */
    const char *catalog_path;           /* the data dir's catalog.db; copied */
    struct scry_log *log;               /* may be NULL; borrowed */
    struct scry_metrics *metrics;       /* may be NULL; borrowed */
    int64_t rescan_ms;     /* glob expansion; 0 → 3000 */
    int64_t poll_ms;       /* stat of every file without inotify; 0 → 1000 */
    int64_t min_round_ms;  /* at most one commit per file set per this; 0 → 200 */
    int64_t idle_flush_ms; /* flush a rotated/deleted file's partial line, or an
                              open multiline record, after this idle time; 0 → 5000 */
    bool no_inotify;       /* force the polling fallback (tests) */
    int64_t checkpoint_delay_ms; /* tests only: sleep between commit and checkpoint,
                                    so a kill -9 lands in that window */
    col_tail_checkpoint_fn on_checkpoint; /* NULL in the server */
    void *hook_ud;
};

/* Starts the thread (idle until the first apply). The catalog is opened in
 * that thread (one sqlite handle per thread). After success, destroy. */
int col_tail_manager_create(const struct col_tail_opts *o, struct col_tail_manager **out,
                            struct scry_err *err);
/* Hands over cfg->logs. The manager borrows cfg until the next apply or
 * destroy has returned; the caller may free the old config after this
 * returns. Files no longer matched stop being tailed (their checkpoints
 * stay, so they resume if matched again). Invalid firstline regexes fail
 * with SCRY_EINVAL and leave the old config in force. */
int col_tail_manager_apply_config(struct col_tail_manager *m, const struct scry_config *cfg,
                                  struct scry_err *err);
/* Stops the thread after its current round (which commits and checkpoints),
 * closes files and the catalog. NULL is a no-op. */
void col_tail_manager_destroy(struct col_tail_manager *m);

/* Writes rows into the tail_positions table of the catalog at catalog_path
 * (created and migrated if needed), in one transaction. For the agent's
 * start-up, before a manager runs on that catalog. */
int col_tail_positions_put(const char *catalog_path, const struct col_tail_position *p, size_t n,
                           struct scry_err *err);

/* ---- the record assembler ---- */

/* One record: a line, or with multiline, lines joined by "\n". p is valid
 * UTF-8 (invalid bytes became U+FFFD), without the line terminator, at most
 * max_bytes long; truncated says the original was longer. end_off is the
 * file offset at which reading must restart to reproduce everything after
 * this record (the checkpoint to write once it is committed). */
struct col_tail_record {
    const char *p;
    size_t len;
    bool truncated;
    int64_t end_off;
};

typedef void (*col_tail_emit_fn)(void *ud, const struct col_tail_record *r);

struct col_tail_lines {
    size_t max_bytes;
    const void *firstline_re; /* pcre2_code*, unanchored search; NULL: one line, one record */
    void *md;                 /* pcre2_match_data* */
    int64_t off;              /* file offset of the next byte fed */
    struct scry_buf line;     /* the current physical line, capped at max_bytes + 4 */
    bool line_over;           /* the current physical line went past the cap */
    int64_t line_start;
    struct scry_buf fixed;    /* scratch: the line with UTF-8 repaired */
    struct scry_buf rec;      /* multiline: the open record */
    bool rec_open, rec_trunc;
    int64_t rec_start, rec_end;
};

/* max_bytes >= 4. firstline_re is borrowed. Reading starts at off. */
void col_tail_lines_init(struct col_tail_lines *l, size_t max_bytes, const void *firstline_re,
                         int64_t off);
void col_tail_lines_fini(struct col_tail_lines *l);
/* Forgets everything pending and restarts at off (copytruncate: 0). */
void col_tail_lines_reset(struct col_tail_lines *l, int64_t off);
/* Feeds bytes that start at l->off; emits every record completed by them. */
void col_tail_lines_feed(struct col_tail_lines *l, const char *p, size_t len, col_tail_emit_fn fn,
                         void *ud);
/* Emits the open multiline record; with partial, the unterminated last line
 * too (a rotated or deleted file that stopped growing). */
void col_tail_lines_flush(struct col_tail_lines *l, bool partial, col_tail_emit_fn fn, void *ud);
/* Whether bytes are held back (an open record or a partial line). */
bool col_tail_lines_pending(const struct col_tail_lines *l);

/* Appends p[0, len) to out with every invalid UTF-8 sequence (bad lead,
 * bad or missing continuation, overlong, surrogate, > U+10FFFF) replaced by
 * U+FFFD, one per maximal invalid subpart as WHATWG decoders do. Returns
 * the number of replacements. */
size_t col_tail_utf8_repair(struct scry_buf *out, const char *p, size_t len);
/* The length of the longest prefix of valid UTF-8 p[0, len) that is at most
 * max bytes and does not split a character. */
size_t col_tail_utf8_cut(const char *p, size_t len, size_t max);

/* ---- file identity ---- */

#define COL_TAIL_FP_BYTES 1024

/* xxh64 of the file's first n bytes (n <= COL_TAIL_FP_BYTES), read with
 * pread. A file keeps its identity while its first fp_len bytes still hash
 * to the recorded fingerprint; a change means it was replaced (copytruncate
 * then rewritten, or an inode reused). SCRY_ENOTFOUND when the file has
 * fewer than n bytes (it shrank); SCRY_EIO on a read error. */
int col_tail_fingerprint(int fd, int64_t n, uint64_t *fp, struct scry_err *err);

#endif
