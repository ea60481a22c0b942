/* log.h — leveled, structured logging in logfmt (default) or JSON.
 *
 *   level=warn ts=2026-12-05T16:00:00.123Z component=scrape job=node msg="scrape failed" err="..."
 *
 * Each line names its component so scry's own logs are queryable in its own
 * logstore. The macros test the level before evaluating anything, and are
 * wrapped in do { } while (0) (never a bare if: dangling else). A line is
 * written with one write(2), so concurrent threads never interleave. */
#ifndef SCRY_CORE_LOG_H
#define SCRY_CORE_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scry_log_level { SCRY_LOG_DEBUG, SCRY_LOG_INFO, SCRY_LOG_WARN, SCRY_LOG_ERROR };
enum scry_log_format { SCRY_LOG_LOGFMT, SCRY_LOG_JSON };

struct scry_log;

/* Writes to fd (not closed by destroy). Thread-safe after create. */
struct scry_log *scry_log_create(int fd, enum scry_log_level level, enum scry_log_format format);
void scry_log_destroy(struct scry_log *l); /* NULL is a no-op */
void scry_log_set_level(struct scry_log *l, enum scry_log_level level);
bool scry_log_enabled(const struct scry_log *l, enum scry_log_level level);
/* "debug" "info" "warn" "error" → level; returns -1 for anything else. */
int scry_log_level_parse(const char *s);
/* "logfmt" "json" → format; returns -1 for anything else. */
int scry_log_format_parse(const char *s);

/* Replaces the wall clock (ms since the epoch) used for ts=, for tests.
 * Call before sharing the logger between threads; NULL restores the clock. */
typedef int64_t (*scry_log_clock_fn)(void *ud);
void scry_log_set_clock(struct scry_log *l, scry_log_clock_fn fn, void *ud);

/* One line: level, ts, component, msg, then n_kv key/value string pairs
 * (kv[0]=key0, kv[1]=value0, ...). Values are quoted/escaped as needed. */
void scry_log_write(struct scry_log *l, enum scry_log_level level, const char *component,
                    const char *msg, const char *const *kv, size_t n_kv);

/* Usage: SCRY_LOG(log, SCRY_LOG_INFO, "http", "listening", "addr", addr, "port", port_str);
 * Keys and values are C strings; format numbers first. */
#define SCRY_LOG(l, lvl, comp, msg, ...)                                                    \
    do {                                                                                    \
        if (scry_log_enabled((l), (lvl))) {                                                 \
            const char *scry_kv_[] = { NULL, ##__VA_ARGS__ };                               \
            scry_log_write((l), (lvl), (comp), (msg), scry_kv_ + 1,                         \
                           (sizeof scry_kv_ / sizeof scry_kv_[0] - 1) / 2);                 \
        }                                                                                   \
    } while (0)

/* Rate limiting of repeats (STYLE.md §10): a dead scrape target should log
 * once per interval with a count, not once per attempt.
 *
 *   uint64_t n;
 *   if (scry_log_limit_allow(&lim, target, now_ms, &n))
 *       SCRY_LOG(log, SCRY_LOG_WARN, "scrape", "scrape failed", "target", target,
 *                "suppressed", n_str);   // n_str formatted from n
 *
 * Keys hash into a fixed table of SCRY_LOG_LIMIT_SLOTS slots: no allocation,
 * bounded memory however many keys there are. Two keys that share a slot
 * evict each other (each is then let through, and the evicted key's count is
 * lost), which errs on the side of logging. Thread-safe. */
#define SCRY_LOG_LIMIT_SLOTS 64

struct scry_log_limit {
    int64_t interval_ms;
    pthread_mutex_t mu;
    struct scry_log_limit_slot {
        uint64_t key_hash; /* 0: empty slot */
        int64_t last_ms;   /* when this key was last let through */
        uint64_t suppressed;
    } slot[SCRY_LOG_LIMIT_SLOTS];
};

/* init/fini: caller-owned storage; interval_ms > 0. */
void scry_log_limit_init(struct scry_log_limit *ll, int64_t interval_ms);
void scry_log_limit_fini(struct scry_log_limit *ll);
/* True when key was not let through in the last interval_ms (then
 * *suppressed, if not NULL, gets the number of calls refused since the last
 * one let through, and the count restarts). False otherwise, and the call
 * is counted. */
bool scry_log_limit_allow(struct scry_log_limit *ll, const char *key, int64_t now_ms,
                          uint64_t *suppressed);

#endif
