/* buf.h — byte slices and a growable byte/string buffer.
 *
 * struct scry_str points into bytes someone else owns (h2o's h2o_iovec_t):
 * parsers hand out slices of their input instead of copies.
 * struct scry_buf owns a heap buffer that grows by doubling; its contents are
 * always NUL-terminated so .p can be used as a C string. */
#ifndef SCRY_CORE_BUF_H
#define SCRY_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scry_str {
    const char *p;
    size_t len;
};

#define SCRY_STR(lit) ((struct scry_str){ (lit), sizeof(lit) - 1 })
struct scry_str scry_str_c(const char *z); /* slice of a C string (NULL → empty) */
bool scry_str_eq(struct scry_str a, struct scry_str b);
bool scry_str_eqz(struct scry_str a, const char *z);
int scry_str_cmp(struct scry_str a, struct scry_str b); /* memcmp order, then length */

struct scry_buf {
    char *p;    /* NUL-terminated when cap > 0; NULL before the first write */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap; /* bytes allocated */
};

/* init/fini: the struct is caller-owned; fini frees the bytes. A zeroed
 * struct is a valid empty buffer. */
void scry_buf_init(struct scry_buf *b);
void scry_buf_fini(struct scry_buf *b);
void scry_buf_reset(struct scry_buf *b);            /* len = 0, keeps memory */
void scry_buf_reserve(struct scry_buf *b, size_t extra); /* room for extra more bytes */
void scry_buf_put(struct scry_buf *b, const void *p, size_t len);
void scry_buf_putc(struct scry_buf *b, char c);
void scry_buf_puts(struct scry_buf *b, const char *z);
void scry_buf_printf(struct scry_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void scry_buf_vprintf(struct scry_buf *b, const char *fmt, va_list ap);
/* Appends a float as Go's strconv.FormatFloat(v, 'g', -1, 64) does — the
 * text exposition format and PromQL's printing: shortest round-trip digits,
 * exponent form below 1e-4 or from 1e6 ("1e+06"), and "NaN", "+Inf", "-Inf". */
void scry_buf_put_double(struct scry_buf *b, double v);
/* Appends a sample value as Prometheus's HTTP API writes it: shortest digits
 * in fixed notation ("123456789012", "0.1"), exponent form only below 1e-6
 * or from 1e21, and "NaN", "+Inf", "-Inf". */
void scry_buf_put_double_api(struct scry_buf *b, double v);
/* The same texts into out (at least SCRY_FMT_DOUBLE_MAX bytes, no NUL);
 * they return the length. For writers that format many numbers into
 * memory they reserved themselves. */
#define SCRY_FMT_DOUBLE_MAX 32
size_t scry_fmt_double(char *out, double v);
size_t scry_fmt_double_api(char *out, double v);
/* The decimal digits of d into out (at least 20 bytes, no NUL). */
size_t scry_fmt_u64(char *out, uint64_t d);
/* Hands the bytes to the caller (free() them) and leaves b empty. */
char *scry_buf_take(struct scry_buf *b);

#endif
