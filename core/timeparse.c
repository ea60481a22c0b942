/* timeparse.c — timestamps, durations and byte sizes, parsed the way
 * Prometheus parses them, so a URL or config that works against Prometheus
 * works against scry with the same meaning.
 *
 * Everything is hand-written over (pointer, length) slices instead of going
 * through sscanf/strptime: inputs come straight from HTTP query strings and
 * YAML scalars, are not NUL-terminated, and must be rejected exactly where
 * Go's strconv/time packages reject them. All arithmetic is overflow-checked
 * with __builtin_*_overflow; an out-of-range value is an error, never a
 * wrapped number.
 *
 * Timestamps are int64 milliseconds. Prometheus's sentinels for "no bound"
 * (the strings its API prints for math.MinInt64/MaxInt64 times) map to the
 * exact millisecond values Prometheus's timestamp.FromTime gives them, so
 * min/max round-trip through Grafana unchanged. */
#include "core/timeparse.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_PER_S 1000LL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
#define MS_PER_D (24 * MS_PER_H)
#define MS_PER_W (7 * MS_PER_D)
#define MS_PER_Y (365 * MS_PER_D)

/* Prometheus model.Duration is a time.Duration (int64 nanoseconds), so a
 * duration longer than ~292 years does not exist there; reject it here too. */
#define DURATION_MAX_MS (INT64_MAX / 1000000)

/* web/api/v1: MinTime = time.Unix(math.MinInt64/1000+62135596801, 0),
 * MaxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999), in ms. */
#define MIN_TIME_MS (-9223309901257974000LL)
#define MAX_TIME_MS (9223309901257974999LL)
static const char min_time_str[] = "-292273086-05-16T16:47:06Z";
static const char max_time_str[] = "292277025-08-18T07:12:54.999999999Z";

/* Copies s[0..len) into a bounded C string for strtod; longer inputs are not
 * numbers anyone writes, so they simply fail to parse. */
static bool to_cstr(const char *s, size_t len, char *out, size_t cap)
{
    if (len == 0 || len >= cap || memchr(s, 0, len))
        return false;
    memcpy(out, s, len);
    out[len] = 0;
    return true;
}

/* Go's strconv.ParseFloat: no leading spaces, the whole string consumed.
 * Infinities and NaN are rejected because no caller can use them. */
static bool parse_float(const char *s, size_t len, double *out)
{
    char tmp[64], *end;
    if (!to_cstr(s, len, tmp, sizeof tmp))
        return false;
    char c = tmp[0];
    if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')))
        return false;
    for (size_t i = 0; i < len; i++)
        if (tmp[i] == 'x' || tmp[i] == 'X' || tmp[i] == 'n' || tmp[i] == 'N')
            return false; /* hex floats, nan, inf: strtod-only forms */
    double v = strtod(tmp, &end);
    if (*end != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Go's time.Parse(time.RFC3339Nano): YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM).
 * The fraction is truncated to milliseconds, as timestamp.FromTime does. */
static bool parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!scry_time_digits(s, 4, &y) || !scry_time_digits(s + 5, 2, &mo) ||
        !scry_time_digits(s + 8, 2, &d) || !scry_time_digits(s + 11, 2, &h) ||
        !scry_time_digits(s + 14, 2, &mi) || !scry_time_digits(s + 17, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        int scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac_ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    int64_t off_s = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!scry_time_digits(s + i + 1, 2, &oh) || !scry_time_digits(s + i + 4, 2, &om) ||
            oh > 23 || om > 59)
            return false;
        off_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    int64_t secs = scry_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out_ms = secs * MS_PER_S + frac_ms;
    return true;
}

int scry_time_parse(const char *s, size_t len, int64_t *out_ms, struct scry_err *err)
{
    if (!s)
        s = "", len = 0;
    double v;
    if (parse_float(s, len, &v)) {
        /* Prometheus: math.Modf, then the fraction rounded to ms. The bound
         * keeps the product inside int64. */
        if (fabs(v) < 9.2e15) {
            double ip, fp = modf(v, &ip);
            *out_ms = (int64_t)ip * MS_PER_S + (int64_t)llround(fp * 1000.0);
            return 0;
        }
    } else if (parse_rfc3339(s, len, out_ms)) {
        return 0;
    } else if (len == sizeof min_time_str - 1 && memcmp(s, min_time_str, len) == 0) {
        *out_ms = MIN_TIME_MS;
        return 0;
    } else if (len == sizeof max_time_str - 1 && memcmp(s, max_time_str, len) == 0) {
        *out_ms = MAX_TIME_MS;
        return 0;
    }
    return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" to a valid timestamp",
                        (int)(len > 128 ? 128 : len), s);
}

/* ---- durations --------------------------------------------------------- */

static const struct unit {
    const char *name;
    int64_t ms;
} duration_units[] = {
    { "y", MS_PER_Y }, { "w", MS_PER_W }, { "d", MS_PER_D }, { "h", MS_PER_H },
    { "m", MS_PER_M }, { "s", MS_PER_S }, { "ms", 1 },
};
#define N_DURATION_UNITS (sizeof duration_units / sizeof duration_units[0])

/* Matches the unit at s[0..len) and returns its index, or -1. "ms" must win
 * over "m", so the longest name is tried first. */
static int duration_unit(const char *s, size_t len, size_t *ulen)
{
    if (len >= 2 && s[0] == 'm' && s[1] == 's') {
        *ulen = 2;
        return (int)N_DURATION_UNITS - 1;
    }
    for (size_t u = 0; len >= 1 && u + 1 < N_DURATION_UNITS; u++) {
        if (s[0] == duration_units[u].name[0]) {
            *ulen = 1;
            return (int)u;
        }
    }
    return -1;
}

/* model.ParseDuration: ^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$
 * or the literal "0". Returns false on syntax errors; *range_err is set when
 * the syntax is fine but the value does not fit. */
static bool parse_duration(const char *s, size_t len, int64_t *out_ms, bool *range_err)
{
    *range_err = false;
    if (len == 1 && s[0] == '0') {
        *out_ms = 0;
        return true;
    }
    if (len == 0)
        return false;
    int64_t total = 0;
    int next_unit = 0; /* units must appear in order, each once */
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        int64_t n = 0;
        bool over = false;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            over |= __builtin_mul_overflow(n, 10, &n);
            over |= __builtin_add_overflow(n, s[i] - '0', &n);
            i++;
        }
        size_t ulen = 0;
        int u = i > start ? duration_unit(s + i, len - i, &ulen) : -1;
        if (u < next_unit) {
            *range_err = false; /* a syntax error wins: it is the real problem */
            return false;
        }
        i += ulen;
        next_unit = u + 1;
        int64_t part;
        if (over || __builtin_mul_overflow(n, duration_units[u].ms, &part) ||
            __builtin_add_overflow(total, part, &total))
            *range_err = true;
    }
    if (total > DURATION_MAX_MS)
        *range_err = true;
    *out_ms = total;
    return !*range_err;
}

int scry_duration_parse(const char *s, size_t len, int64_t *out_ms, struct scry_err *err)
{
    if (!s)
        s = "", len = 0;
    bool range_err;
    int64_t v;
    if (parse_duration(s, len, &v, &range_err)) {
        *out_ms = v;
        return 0;
    }
    int n = (int)(len > 128 ? 128 : len);
    if (range_err)
        return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" as a duration: out of range",
                            n, s);
    return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" as a duration", n, s);
}

int scry_duration_or_seconds_parse(const char *s, size_t len, int64_t *out_ms,
                                   struct scry_err *err)
{
    if (!s)
        s = "", len = 0;
    double v;
    int n = (int)(len > 128 ? 128 : len);
    if (parse_float(s, len, &v)) {
        /* Prometheus converts to time.Duration (ns, truncated) first. */
        double ns = v * 1e9;
        if (ns >= 9.2e18 || ns <= -9.2e18)
            return scry_err_set(err, SCRY_EPARSE,
                                "cannot parse \"%.*s\" to a valid duration. It overflows int64",
                                n, s);
        *out_ms = (int64_t)ns / 1000000;
        return 0;
    }
    bool range_err;
    int64_t ms;
    if (parse_duration(s, len, &ms, &range_err)) {
        *out_ms = ms;
        return 0;
    }
    return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" to a valid duration", n, s);
}

void scry_duration_format(int64_t ms, struct scry_buf *out)
{
    if (ms == 0) {
        scry_buf_puts(out, "0s");
        return;
    }
    uint64_t left;
    if (ms < 0) {
        scry_buf_putc(out, '-'); /* Prometheus never prints these; keep them legible */
        left = (uint64_t)0 - (uint64_t)ms;
    } else {
        left = (uint64_t)ms;
    }
    for (size_t u = 0; u < N_DURATION_UNITS; u++) {
        uint64_t mult = (uint64_t)duration_units[u].ms;
        /* Years and weeks only when exact: "90d" reads better than "12w6d". */
        bool exact_only = u < 2;
        if (exact_only && left % mult != 0)
            continue;
        uint64_t v = left / mult;
        if (v > 0) {
            scry_buf_printf(out, "%llu%s", (unsigned long long)v, duration_units[u].name);
            left -= v * mult;
        }
    }
}

/* ---- byte sizes -------------------------------------------------------- */

/* alecthomas/units ParseBase2Bytes: <number><unit> repeated ("1GB512MB"),
 * numbers may have a fraction, both KB and KiB mean 1024, "0" alone is 0. */
static int64_t bytes_unit(const char *s, size_t len, size_t *ulen)
{
    static const char prefixes[] = "KMGTPE";
    if (len >= 1 && s[0] == 'B') {
        *ulen = 1;
        return 1;
    }
    if (len < 2)
        return 0;
    char p = s[0] == 'k' ? 'K' : s[0];
    const char *hit = strchr(prefixes, p);
    if (!hit || p == 0)
        return 0;
    int64_t mult = 1;
    for (const char *q = prefixes; q <= hit; q++)
        mult *= 1024;
    if (s[1] == 'B') {
        *ulen = 2;
        return mult;
    }
    if (len >= 3 && s[1] == 'i' && s[2] == 'B') {
        *ulen = 3;
        return mult;
    }
    return 0;
}

int scry_bytes_parse(const char *s, size_t len, int64_t *out_bytes, struct scry_err *err)
{
    if (!s)
        s = "", len = 0;
    int n = (int)(len > 128 ? 128 : len);
    if (len == 1 && s[0] == '0') {
        *out_bytes = 0;
        return 0;
    }
    double total = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            i++;
        double v;
        size_t ulen = 0;
        int64_t mult = i > start ? bytes_unit(s + i, len - i, &ulen) : 0;
        if (mult == 0 || !parse_float(s + start, i - start, &v))
            return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" as a byte size", n, s);
        total += v * (double)mult;
        i += ulen;
    }
    if (len == 0)
        return scry_err_set(err, SCRY_EPARSE, "cannot parse \"\" as a byte size");
    if (total >= 9.2e18)
        return scry_err_set(err, SCRY_EPARSE, "cannot parse \"%.*s\" as a byte size: out of range",
                            n, s);
    *out_bytes = (int64_t)total;
    return 0;
}

/* ---- clocks ------------------------------------------------------------ */

int64_t scry_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * MS_PER_S + ts.tv_nsec / 1000000;
}

int64_t scry_clock_now_ms(const struct scry_clock *c)
{
    if (c && c->now_ms)
        return c->now_ms(c->ud);
    return scry_now_ms();
}

double scry_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
