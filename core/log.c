/* log.c — the logger: one line per call, logfmt or JSON, one write(2).
 *
 * Each call builds its line in a buffer of its own (1 KiB on the stack,
 * moved to the heap only for longer lines), then hands it to the kernel in a
 * single write(2). Appends of one write to the same file or pipe do not
 * interleave (pipes: up to PIPE_BUF = 4096 bytes), so the logger needs no
 * lock and a slow sink never holds other threads behind a mutex. The level is
 * an atomic so it can be changed at runtime (config reload) while others log.
 *
 * Values are written so that our own logstore (and Loki's logfmt / json
 * parsers) read them back exactly: logfmt quotes a value that is empty or
 * holds a space, '=', '"', a control byte or invalid UTF-8, as go-logfmt
 * does; msg is always quoted so lines read alike. Invalid UTF-8 becomes
 * \ufffd in both formats. */
#include "core/log.h"
#include "core/labels.h"
#include "core/mem.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct scry_log {
    int fd;
    _Atomic int level;
    enum scry_log_format format;
    scry_log_clock_fn clock;
    void *clock_ud;
};

static const char *const level_names[] = { "debug", "info", "warn", "error" };

struct scry_log *scry_log_create(int fd, enum scry_log_level level, enum scry_log_format format)
{
    struct scry_log *l = scry_calloc(1, sizeof *l);
    l->fd = fd;
    atomic_init(&l->level, (int)level);
    l->format = format;
    return l;
}

void scry_log_destroy(struct scry_log *l) { free(l); }

void scry_log_set_level(struct scry_log *l, enum scry_log_level level)
{
    atomic_store_explicit(&l->level, (int)level, memory_order_relaxed);
}

bool scry_log_enabled(const struct scry_log *l, enum scry_log_level level)
{
    return l && (int)level >= atomic_load_explicit(&((struct scry_log *)l)->level,
                                                   memory_order_relaxed);
}

void scry_log_set_clock(struct scry_log *l, scry_log_clock_fn fn, void *ud)
{
    l->clock = fn;
    l->clock_ud = ud;
}

int scry_log_level_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int scry_log_format_parse(const char *s)
{
    if (s && strcmp(s, "logfmt") == 0)
        return SCRY_LOG_LOGFMT;
    if (s && strcmp(s, "json") == 0)
        return SCRY_LOG_JSON;
    return -1;
}

/* ------------------------------------------------------------------------
 * A line buffer that starts on the stack
 * ------------------------------------------------------------------------ */

struct line {
    char *p;
    size_t len, cap;
    char stack[1024];
};

static void line_put(struct line *ln, const char *s, size_t n)
{
    if (ln->len + n > ln->cap) {
        size_t cap = ln->cap * 2;
        while (cap < ln->len + n)
            cap *= 2;
        if (ln->p == ln->stack) {
            ln->p = scry_malloc(cap);
            memcpy(ln->p, ln->stack, ln->len);
        } else {
            ln->p = scry_realloc(ln->p, cap);
        }
        ln->cap = cap;
    }
    memcpy(ln->p + ln->len, s, n);
    ln->len += n;
}

static void line_puts(struct line *ln, const char *z) { line_put(ln, z, strlen(z)); }
static void line_putc(struct line *ln, char c) { line_put(ln, &c, 1); }

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    return n <= avail && scry_utf8_valid((const char *)p, n) ? n : 0;
}

/* Escapes for the inside of a double-quoted logfmt or JSON string; both
 * accept the same set. */
static void put_escaped(struct line *ln, const char *z)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)z;
    size_t len = strlen(z);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            line_put(ln, e, 2);
        } else if (c == '\n') {
            line_puts(ln, "\\n");
        } else if (c == '\r') {
            line_puts(ln, "\\r");
        } else if (c == '\t') {
            line_puts(ln, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            line_put(ln, e, 6);
        } else if (c >= 0x80) {
            size_t n = utf8_seq(p + i, len - i);
            if (n) {
                line_put(ln, z + i, n);
                i += n;
                continue;
            }
            line_puts(ln, "\\ufffd");
        } else {
            line_putc(ln, (char)c);
        }
        i++;
    }
}

static void put_quoted(struct line *ln, const char *z)
{
    line_putc(ln, '"');
    put_escaped(ln, z);
    line_putc(ln, '"');
}

static bool logfmt_needs_quotes(const char *z)
{
    if (!*z)
        return true;
    for (const unsigned char *p = (const unsigned char *)z; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == 0x7f)
            return true;
    return !scry_utf8_valid(z, strlen(z));
}

/* logfmt keys cannot be quoted; replace what would break the pair. */
static void put_logfmt_key(struct line *ln, const char *k)
{
    if (!*k)
        line_putc(ln, '_');
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        line_putc(ln, (*p <= ' ' || *p == '=' || *p == '"' || *p >= 0x7f) ? '_' : (char)*p);
}

static void put_logfmt_pair(struct line *ln, const char *k, const char *v, bool quote)
{
    if (ln->len)
        line_putc(ln, ' ');
    put_logfmt_key(ln, k);
    line_putc(ln, '=');
    if (!v)
        v = "";
    if (quote || logfmt_needs_quotes(v))
        put_quoted(ln, v);
    else
        line_puts(ln, v);
}

static void put_json_pair(struct line *ln, const char *k, const char *v)
{
    line_putc(ln, ln->len > 1 ? ',' : '{');
    put_quoted(ln, k);
    line_putc(ln, ':');
    put_quoted(ln, v ? v : "");
}

static int64_t now_ms(const struct scry_log *l)
{
    if (l->clock)
        return l->clock(l->clock_ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 in UTC with milliseconds: 2026-12-05T16:00:00.123Z */
static void format_ts(int64_t ms, char *out, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere to report a failing log sink; drop the line */
        p += n;
        len -= (size_t)n;
    }
}

void scry_log_write(struct scry_log *l, enum scry_log_level level, const char *component,
                    const char *msg, const char *const *kv, size_t n_kv)
{
    if (!scry_log_enabled(l, level))
        return;
    assert(level >= SCRY_LOG_DEBUG && level <= SCRY_LOG_ERROR);
    char ts[96]; /* ints bounded by gmtime_r, but -Wformat-truncation cannot see it */
    format_ts(now_ms(l), ts, sizeof ts);

    struct line ln;
    ln.p = ln.stack;
    ln.len = 0;
    ln.cap = sizeof ln.stack;
    if (l->format == SCRY_LOG_JSON) {
        put_json_pair(&ln, "level", level_names[level]);
        put_json_pair(&ln, "ts", ts);
        if (component)
            put_json_pair(&ln, "component", component);
        put_json_pair(&ln, "msg", msg);
        for (size_t i = 0; i < n_kv; i++)
            put_json_pair(&ln, kv[2 * i] ? kv[2 * i] : "_", kv[2 * i + 1]);
        line_puts(&ln, "}\n");
    } else {
        put_logfmt_pair(&ln, "level", level_names[level], false);
        put_logfmt_pair(&ln, "ts", ts, false);
        if (component)
            put_logfmt_pair(&ln, "component", component, false);
        put_logfmt_pair(&ln, "msg", msg, true);
        for (size_t i = 0; i < n_kv; i++)
            put_logfmt_pair(&ln, kv[2 * i] ? kv[2 * i] : "_", kv[2 * i + 1], false);
        line_putc(&ln, '\n');
    }
    write_all(l->fd, ln.p, ln.len);
    if (ln.p != ln.stack)
        free(ln.p);
}

/* ------------------------------------------------------------------------
 * Rate limiting
 * ------------------------------------------------------------------------ */

void scry_log_limit_init(struct scry_log_limit *ll, int64_t interval_ms)
{
    assert(interval_ms > 0);
    memset(ll, 0, sizeof *ll);
    ll->interval_ms = interval_ms;
    pthread_mutex_init(&ll->mu, NULL);
}

void scry_log_limit_fini(struct scry_log_limit *ll)
{
    if (ll)
        pthread_mutex_destroy(&ll->mu);
}

bool scry_log_limit_allow(struct scry_log_limit *ll, const char *key, int64_t now_ms,
                          uint64_t *suppressed)
{
    uint64_t h = scry_xxh64(key, strlen(key), 0);
    h += (h == 0); /* 0 marks an empty slot */
    bool allow = true;
    uint64_t n = 0;

    pthread_mutex_lock(&ll->mu);
    struct scry_log_limit_slot *s = &ll->slot[h % SCRY_LOG_LIMIT_SLOTS];
    if (s->key_hash != h) {
        s->key_hash = h;
        s->last_ms = now_ms;
        s->suppressed = 0;
    } else if (now_ms - s->last_ms >= ll->interval_ms) {
        n = s->suppressed;
        s->suppressed = 0;
        s->last_ms = now_ms;
    } else {
        s->suppressed++;
        allow = false;
    }
    pthread_mutex_unlock(&ll->mu);
    if (allow && suppressed)
        *suppressed = n;
    return allow;
}
