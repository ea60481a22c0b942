/* db_internal.h — what the db*.c files share. Not for other folders. */
#ifndef SCRY_TSDB_DB_INTERNAL_H
#define SCRY_TSDB_DB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/querier.h"
#include "core/wal.h"
#include "tsdb/block.h"
#include "tsdb/head.h"
#include "tsdb/tsdb.h"

struct tsdb {
    struct tsdb_opts opts; /* data_dir owned (copied) */
    char wal_dir[4096];
    struct tsdb_blocks *blocks;
    struct tsdb_head *head;
    struct scry_wal *wal;
    struct scry_queryable queryable;

    /* The gate between queriers (readers) and block-set changes (writer). */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    unsigned gate_readers, gate_writers_waiting;
    bool gate_writer;

    pthread_mutex_t maintain_mu; /* one cut/compaction/flush at a time */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping, thread_started;
    pthread_t thread;
};

void tsdb__gate_lock(struct tsdb *db);
void tsdb__gate_unlock(struct tsdb *db);

/* Writes [mint, maxt] of the head as a block: into the catalogued set
 * (catalogue) or as a plain block directory under blocks_dir (snapshots).
 * SCRY_ENOTFOUND when the head has nothing in the range. */
int tsdb__write_head_block(struct tsdb *db, const char *blocks_dir, int64_t mint, int64_t maxt,
                           bool catalogue, struct tsdb_block_meta *meta, struct scry_err *err);

/* Replays the WAL into the head, logging progress (db_wal.c). */
int tsdb__replay(struct tsdb *db, struct scry_err *err);
/* Rewrites the WAL so that it holds only what the head still has: series
 * alive in the head and samples at or after mint (db_wal.c). */
int tsdb__checkpoint(struct tsdb *db, int64_t mint, struct scry_err *err);

void tsdb__log_block(struct tsdb *db, const char *what, const struct tsdb_block_meta *m,
                     double seconds);

#endif
