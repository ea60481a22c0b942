/* rw_queue_internal.h — state shared by rw_queue.c (queue, disk, appender)
 * and rw_queue_send.c (shards, HTTP, retries).
 *
 * Records live twice: on disk in the WAL (for restarts) and in memory in a
 * ring indexed by sequence number (for the shards). A record is the payload
 * of one commit:
 *
 *   u8  version (1)  u64 seq  u32 n_entries             (13 bytes, LE)
 *   n_entries x { u32 len  u64 series_hash  i64 t_ms  len bytes }
 *
 * where the len bytes are WriteRequest field 1 (0x0a, varint length,
 * TimeSeries{labels, one sample}) ready to be concatenated into a request
 * body. A shard sends the entries whose series_hash % n_shards is its index.
 * Every record with seq < acked_seq is done for every shard; that number is
 * what dir/acked holds. */
#ifndef SCRY_COLLECTOR_RW_QUEUE_INTERNAL_H
#define SCRY_COLLECTOR_RW_QUEUE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/http_tls.h"
#include "collector/rw_queue.h"
#include "core/buf.h"
#include "core/wal.h"

#define COL__RWQ_REC_VERSION 1
#define COL__RWQ_REC_HEADER 13
#define COL__RWQ_ENTRY_HEADER 20
#define COL__RWQ_WAL_TYPE 1

struct col__rwq_rec {
    uint64_t seq;
    uint32_t segment; /* WAL segment holding it: truncation below the oldest */
    uint32_t n_entries;
    size_t len;
    char *p; /* the payload, header included; NULL: on disk only (evicted) */
};

struct col__rwq_shard {
    struct col_rwq *q;
    uint32_t idx;
    pthread_t thread;
    bool started;
    /* Read position, advanced while a batch is built: next entry at
     * (rseq, roff); roff 0 means the record's first entry. */
    uint64_t rseq;
    size_t roff;
    uint64_t acked_seq; /* every record before it is sent for this shard */
    /* The batch being built or retried (request body, uncompressed). */
    struct scry_buf body;
    uint64_t batch_samples;
    int64_t batch_max_t_ms;
    double batch_first_s; /* monotonic time the batch got its first sample */
    char *snappy;
    size_t snappy_cap;
    void *curl; /* CURL* */
    struct col__tls_route route; /* tls_config.server_name; in use by curl */
    struct col__http_capture resp; /* of the last response */
};

struct col__rwq_metrics {
    struct scry_metric *sent, *failed, *retried, *dropped, *pending, *shards, *highest_ts,
        *in, *bytes, *requests;
};

struct col_rwq {
    struct scry_appendable appendable; /* first: the seam's begin */
    const struct scry_remote_write_config *cfg;
    struct scry_log *log;
    char *dir, *user_agent;
    struct scry_labels ext; /* external labels (borrowed) */
    struct scry_wal *wal;

    pthread_mutex_t mu;
    pthread_cond_t cond;  /* new records, acks, stop, flush */
    struct col__rwq_rec **ring; /* ring[(seq - head_seq) + ...], see rec_at */
    size_t ring_cap, ring_start;
    uint64_t head_seq, next_seq; /* records [head_seq, next_seq) are in memory */
    uint64_t acked_seq;          /* persisted in dir/acked */
    bool stopping, flushing;
    bool curl_init;              /* curl_global_init was called */
    /* Memory bound: records whose payload is held in memory total at most
     * mem_budget samples (capacity x shards). Beyond it, records are kept
     * on disk only: the evicted ones always form the suffix
     * [next_seq - n_evicted, next_seq), and a shard that reaches them
     * loads the next ones back from the WAL (col__rwq_load). */
    uint64_t mem_samples, mem_budget;
    uint64_t n_evicted;
    bool loading;
    struct col__rwq_shard *shards;
    uint32_t n_shards;
    struct col_rwq_stats st;     /* counters, under mu */
    struct col__rwq_metrics m;
    struct scry_metrics *own_metrics; /* when the caller gave none */
    void *free_apps;             /* pooled appenders */
};

/* The record with this seq (head_seq <= seq < next_seq), or NULL for a gap. */
struct col__rwq_rec *col__rwq_rec_at(struct col_rwq *q, uint64_t seq);
/* Framing check of a record read from disk (n_entries from its header). */
bool col__rwq_rec_valid(const char *p, size_t len, uint32_t *n_entries);
/* After a shard's acked_seq moved: recomputes the queue's, frees records and
 * WAL segments below it, writes dir/acked. Called with mu held. */
void col__rwq_acked(struct col_rwq *q);

/* Loads evicted records from seq on back into memory, up to the budget
 * (at least one record). Called with mu held; releases it while reading.
 * A record that cannot be read is skipped and its samples counted as
 * dropped, so the shards never stall on a damaged queue. */
void col__rwq_load(struct col_rwq *q, uint64_t seq);

/* Shards (rw_queue_send.c). start: threads; stop: join (mu not held). */
int col__rwq_shards_start(struct col_rwq *q, struct scry_err *err);
void col__rwq_shards_stop(struct col_rwq *q);

static inline uint32_t col__rwq_le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static inline uint64_t col__rwq_le64(const char *p)
{
    return (uint64_t)col__rwq_le32(p) | (uint64_t)col__rwq_le32(p + 4) << 32;
}

#endif
