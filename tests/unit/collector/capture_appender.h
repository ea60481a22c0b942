/* capture_appender.h — a test-only store behind the appender seam
 * (core/appender.h) that records what the ingest handlers commit, for the
 * remote_write and OTLP HTTP tests.
 *
 * Each appender buffers its samples; commit moves them into the store under
 * its mutex, rollback drops them. The knobs make it fail the way the tsdb
 * does: chosen timestamps refused as out of order (SCRY_EINVAL), one
 * timestamp failing with SCRY_EIO, begin or commit failing. It also checks
 * the handler's side of the contract: valid sorted label sets with a
 * metric name, no tenant, and a series ref never reused for another
 * series. Read got/n only while no request is running. */
#ifndef SCRY_TEST_CAPTURE_APPENDER_H
#define SCRY_TEST_CAPTURE_APPENDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/appender.h"

struct capture_sample {
    char *labels; /* scry_labels_format's text, malloc'd */
    int64_t t_ms;
    double v;
};

struct capture_store {
    struct scry_appendable base; /* pass &st->base to the handler */
    pthread_mutex_t mu;
    struct capture_sample *got; /* committed, in commit order */
    size_t n, cap;
    /* knobs, set before a request */
    int64_t reject_t[8]; /* refused with SCRY_EINVAL "out of order sample" */
    size_t n_reject;
    int64_t fail_t; /* fails with SCRY_EIO when fail_t_set */
    bool fail_t_set;
    int begin_rc; /* begin fails with this code when non-zero */
    bool fail_commit;
    /* counters */
    int n_commits, n_rollbacks, n_bad_ref;
};

struct capture_store *capture_store_create(void);
void capture_store_destroy(struct capture_store *st); /* NULL is a no-op */
/* Forgets the committed samples (the counters stay). */
void capture_store_clear(struct capture_store *st);

#endif
