/* timeparse.h — timestamps, durations and byte sizes as users write them.
 *
 * Timestamps follow the Prometheus HTTP API: unix seconds as a float
 * (rounded to milliseconds), RFC 3339 with optional fraction and offset, or
 * the two sentinels Prometheus uses for min/max time. Durations follow
 * Prometheus's syntax: one or more <int><unit>, units y w d h m s ms in that
 * order, each at most once ("1h30m", "90s", "0"). */
#ifndef SCRY_CORE_TIMEPARSE_H
#define SCRY_CORE_TIMEPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Milliseconds since the epoch from s[0..len). SCRY_EPARSE with a message
 * like: cannot parse "x" to a valid timestamp. */
int scry_time_parse(const char *s, size_t len, int64_t *out_ms, struct scry_err *err);

/* The pieces of an RFC 3339 reader, inline because logstore runs them per
 * line on its flush path. scry_time_digits reads exactly n decimal digits. */
static inline bool scry_time_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), valid far beyond the 4-digit years RFC 3339 allows. */
static inline int64_t scry_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Prometheus duration syntax only ("5m", "1h30m"); SCRY_EPARSE otherwise. */
int scry_duration_parse(const char *s, size_t len, int64_t *out_ms, struct scry_err *err);

/* The API's rule for step/timeout: float seconds first ("15", "0.5"), else
 * Prometheus duration syntax. */
int scry_duration_or_seconds_parse(const char *s, size_t len, int64_t *out_ms,
                                   struct scry_err *err);

/* Prints a duration the way Prometheus does: "1h30m", "5m", "0s", "1d". */
void scry_duration_format(int64_t ms, struct scry_buf *out);

/* Byte sizes as Prometheus writes them: "512MB", "1GiB", "0" (B KB MB GB TB
 * PB EB, each also with i; 1KB = 1024 bytes, as Prometheus's units.Base2Bytes). */
int scry_bytes_parse(const char *s, size_t len, int64_t *out_bytes, struct scry_err *err);

/* The wall clock, injectable so retention and staleness can be tested. */
struct scry_clock {
    int64_t (*now_ms)(void *ud);
    void *ud;
};
int64_t scry_clock_now_ms(const struct scry_clock *c); /* NULL c → real time */
int64_t scry_now_ms(void);                              /* real wall-clock time */
double scry_mono_s(void);                               /* monotonic seconds */

#endif
