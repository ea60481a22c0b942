/* tail_internal.h — shared by collector/tail*.c only. */
#ifndef SCRY_COLLECTOR_TAIL_INTERNAL_H
#define SCRY_COLLECTOR_TAIL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/tail.h"
#include "core/catalog.h"

/* One row of tail_positions: where to resume a file and which timestamp
 * the first record there gets (collector/README.md "Tailing"). */
struct col__tail_pos {
    uint64_t dev, ino;
    const char *path; /* borrowed in puts; owned by the caller's arena in loads */
    uint64_t fp;
    int64_t fp_len;
    int64_t off;
    int64_t next_t_ns; /* the timestamp of the first record at off ... */
    bool pinned;       /* ... binding when set; else a fresh one is chosen */
    int64_t last_t_ns; /* the last committed record's timestamp */
};

int col__tail_db_migrate(struct scry_catalog *c, struct scry_err *err);
/* SCRY_ENOTFOUND when there is no row. path is strdup'ed into *path_out
 * (caller frees) when path_out is not NULL. */
int col__tail_db_get(struct scry_catalog *c, uint64_t dev, uint64_t ino, struct col__tail_pos *p,
                     char **path_out, struct scry_err *err);
int col__tail_db_put(struct scry_catalog *c, const struct col__tail_pos *p, struct scry_err *err);
int col__tail_db_del(struct scry_catalog *c, uint64_t dev, uint64_t ino, struct scry_err *err);
/* Calls fn for every row (path valid during the call). */
int col__tail_db_each(struct scry_catalog *c, void (*fn)(void *ud, const struct col__tail_pos *p),
                      void *ud, struct scry_err *err);


/* ---- the manager's state (tail_manager.c, tail_file.c, tail_round.c) ---- */

#include <pthread.h>

#include "core/arena.h"
#include "core/labels.h"

/* A record read this round, waiting for the commit. */
struct col__tail_rec {
    int64_t t_ns;
    size_t at, len; /* in the file's rb */
    bool truncated;
    int64_t end_off;
};

struct col__tail_file {
    char *path;       /* where it was last seen */
    uint64_t dev, ino;
    int fd;
    uint64_t fp;      /* identity: xxh64 of the first fp_len bytes */
    int64_t fp_len;
    int64_t size_seen;
    struct col_tail_lines lines; /* lines.off: the next byte to read */
    int cfg_idx;      /* into cfg->logs */

    /* The checkpoint (mirrors its row): records before ck_off are in the
     * store; the first record at ck_off gets next_t_ns when pinned. */
    int64_t ck_off, next_t_ns, last_t_ns;
    bool pinned;

    struct scry_arena *a; /* labels */
    struct scry_labels labels;
    uint64_t lhash, ref;

    bool gone;        /* rotated away or deleted: drain, then drop */
    bool seen;        /* by the current rescan */
    bool at_eof;      /* the last read reached the end */
    int64_t last_growth_ms;

    /* This round. */
    struct scry_buf rb;
    struct col__tail_rec *recs;
    size_t n_recs, cap_recs;
    int64_t round_base;
    bool round_intent; /* the intent row was written this round */
};

#define COL__TAIL_READ_CHUNK 65536

struct col_tail_manager {
    struct col_tail_opts o;
    char *catalog_path;
    pthread_t thread;
    pthread_mutex_t mu; /* guards everything below; a round holds it */
    int efd;            /* eventfd: stop, apply */
    bool stop;
    const struct scry_config *cfg; /* borrowed; NULL until the first apply */
    void **firstline;              /* per cfg->logs entry: unanchored pcre2_code*, owned */
    size_t n_firstline;
    bool need_rescan, first_scan_done;
    struct scry_catalog *cat; /* the thread's handle */
    int ifd;                  /* inotify, -1: polling */
    struct col__tail_file **files;
    size_t n_files, cap_files;
    int64_t last_scan_ms;
    struct scry_log_limit lim;
    bool thread_failed;
    char *rbuf; /* COL__TAIL_READ_CHUNK bytes: the thread's read buffer */
    struct scry_metrics *own_metrics; /* when opts gave none */
    struct {
        struct scry_metric *files, *lines, *bytes, *truncated, *rot_rename, *rot_truncate,
            *errors, *replayed, *commits;
    } met;
};

int64_t col__tail_now_ns(void);
int64_t col__tail_now_ms(void);

/* tail_file.c */
/* Which logs config takes path (first match, exclusions applied), or -1. */
int col__tail_match(const struct scry_config *cfg, const char *path);
/* Labels for the file from cfg->logs[f->cfg_idx]; false when relabelling
 * dropped it or the labels are invalid. */
bool col__tail_file_label(struct col_tail_manager *m, struct col__tail_file *f);
/* Opens path (already stat'ed as st_dev/st_ino) and positions it from its
 * checkpoint, if any. NULL when it cannot be opened (logged). */
struct col__tail_file *col__tail_file_open(struct col_tail_manager *m, const char *path,
                                           int cfg_idx);
void col__tail_file_close(struct col__tail_file *f);
/* Points the file's assembler at the current config's multiline and limit. */
void col__tail_file_retarget(struct col_tail_manager *m, struct col__tail_file *f);
/* Reads what is new (up to a per-round cap), detecting truncation and
 * replacement; records land in f->recs. */
void col__tail_file_read(struct col_tail_manager *m, struct col__tail_file *f, int64_t now_ms);
/* Forgets this round and re-reads from the checkpoint next time. */
void col__tail_file_rewind(struct col__tail_file *f);
void col__tail_file_pos(const struct col__tail_file *f, struct col__tail_pos *p);

/* tail_round.c: assign timestamps, intent, append, commit, checkpoint. */
/* Returns the number of records committed. */
size_t col__tail_round(struct col_tail_manager *m, int64_t now_ms);

#endif
