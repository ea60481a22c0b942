/* loki_send.h — the agent's log forwarder: Loki push (protobuf + snappy)
 * to a server, without loss or duplicates across a kill -9.
 *
 * The tail manager (collector/tail.h) appends into the appendable of a
 * struct col_loki_send instead of a store. The commit of a round is:
 *   1. the round's entries, encoded as Loki PushRequests of at most
 *      batch_bytes each, and the tail positions the round advances to are
 *      written to a spool file (DIR/spool, fsync, rename) — BEFORE sending;
 *   2. each push is POSTed until the server answers 2xx or a 4xx other
 *      than 429 (Promtail drops those; scry answers 400 for entries older
 *      than their stream's newest, which is what a resend of stored
 *      entries gets); network errors, 5xx and 429 are retried with backoff
 *      (Retry-After honoured);
 *   3. the commit returns 0, the tail manager writes its checkpoints, then
 *      the spool is deleted (col_tail_opts.on_checkpoint).
 * At start-up, col_loki_send_recover resends a spool left by a crash and
 * writes its positions into the catalog before tailing starts.
 * collector/README.md "Agent: log forwarding" has the argument. */
#ifndef SCRY_COLLECTOR_LOKI_SEND_H
#define SCRY_COLLECTOR_LOKI_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/tail.h"
#include "core/appender.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/labels.h"
#include "core/log.h"
#include "core/metrics.h"

/* ---- encoder ------------------------------------------------------------- */

/* Appends the Prometheus text form of ls ({a="x", b="y\""}) that scry's
 * col_loki_parse_labels and Loki read back: values escaped \\ \" \n. */
void col_loki_labels_text(struct scry_buf *out, const struct scry_labels *ls);
/* Appends one PushRequest.streams field (a StreamAdapter with its label
 * text and the n entries, timestamps and structured metadata) to out. */
void col_loki_encode_stream(struct scry_buf *out, const struct scry_labels *ls,
                            const struct scry_log_entry *e, size_t n);

/* ---- spool --------------------------------------------------------------- */

/* A spool: the positions a batch advances to, and its pushes (each an
 * uncompressed PushRequest). Layout in collector/README.md. */
struct col_loki_spool {
    struct col_tail_position *pos; /* paths point into buf */
    size_t n_pos;
    struct scry_str *push;         /* slices of buf */
    size_t n_push;
    char *buf;                     /* the file's bytes, owned (NULL after parse) */
    char *strs;                    /* the paths, NUL-terminated, owned */
};

/* Writes path.tmp, fsyncs it, renames it to path and fsyncs the folder.
 * pushes is the concatenation of n_push { u32 len (LE) | len bytes }. */
int col_loki_spool_write(const char *path, const struct col_tail_position *pos, size_t n_pos,
                         const char *pushes, size_t pushes_len, uint32_t n_push,
                         struct scry_err *err);
/* Parses a spool image (len bytes, borrowed; the result points into it).
 * SCRY_ECORRUPT naming the offset for anything torn, short or damaged. */
int col_loki_spool_parse(const char *p, size_t len, struct col_loki_spool *out,
                         struct scry_err *err);
/* Reads and parses path. SCRY_ENOTFOUND when there is none. */
int col_loki_spool_read(const char *path, struct col_loki_spool *out, struct scry_err *err);
void col_loki_spool_fini(struct col_loki_spool *s);

/* ---- sender -------------------------------------------------------------- */

struct col_loki_send_opts {
    const char *url;          /* POST target, e.g. http://h:9090/loki/api/v1/push; copied */
    const char *dir;          /* spool folder (created); copied */
    const char *tenant;       /* X-Scope-OrgID, or NULL; copied */
    size_t batch_bytes;       /* uncompressed bytes per push; 0 → 1 MiB */
    int64_t timeout_ms;       /* per request; 0 → 10 s */
    int64_t min_backoff_ms;   /* 0 → 500 ms */
    int64_t max_backoff_ms;   /* 0 → 30 s */
    struct scry_metrics *metrics; /* may be NULL; borrowed */
    struct scry_log *log;         /* may be NULL; borrowed */
};

struct col_loki_send;

int col_loki_send_open(struct col_loki_send **out, const struct col_loki_send_opts *o,
                       struct scry_err *err);
/* Finishes nothing: call col_loki_send_stop first if a commit may run. NULL
 * is a no-op. */
void col_loki_send_close(struct col_loki_send *s);
/* The appendable for col_tail_opts.appendable (append_log only; one
 * appender at a time, which the tail manager's single thread guarantees). */
struct scry_appendable *col_loki_send_appendable(struct col_loki_send *s);
/* The col_tail_opts.on_checkpoint hook (ud = the sender). */
void col_loki_send_on_checkpoint(void *ud, const struct col_tail_position *p, size_t n,
                                 bool written);
/* Resends a spool left by a previous run, then writes its positions into the
 * tail checkpoints of catalog_path and deletes it. Retries until delivered
 * or stopped (then SCRY_EIO, the spool stays). 0 also when there is none; a
 * damaged spool is logged and removed (the tailer re-reads from its pinned
 * intents, collector/README.md "Tailing"). */
int col_loki_send_recover(struct col_loki_send *s, const char *catalog_path,
                          struct scry_err *err);
/* Drain: a commit still retrying gives up grace_ms from now (0: at once) and
 * fails; its spool stays on disk for the next start. Thread-safe. */
void col_loki_send_stop(struct col_loki_send *s, int64_t grace_ms);

struct col_loki_send_stats {
    uint64_t entries_sent, bytes_sent, entries_failed, entries_retried, entries_dropped;
    uint64_t requests, spools_recovered;
};
void col_loki_send_stats(struct col_loki_send *s, struct col_loki_send_stats *out);

#endif
