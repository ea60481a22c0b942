/* err.h — one error convention for all of scry.
 *
 * Functions return 0 on success or a negative SCRY_E* code. The detail goes
 * into a caller-supplied struct scry_err (which may be NULL): the code, the
 * errno of a failed syscall, a human-readable message and, for parsers, a
 * position. Callers add context on the way up with scry_err_prefix(), so a
 * message reads "block 01H…: chunk 17: bad crc". Errors are logged once, by
 * whoever handles them, never by the code that detects them. */
#ifndef SCRY_CORE_ERR_H
#define SCRY_CORE_ERR_H

#include <stddef.h>

enum scry_errcode {
    SCRY_OK = 0,
    SCRY_ENOMEM = -1,   /* an allocation failed */
    SCRY_EIO = -2,      /* a syscall on a file or socket failed; errno is kept */
    SCRY_ECORRUPT = -3, /* bytes from disk fail validation; path and offset in msg */
    SCRY_EPARSE = -4,   /* input text or bytes do not parse; position is kept */
    SCRY_EINVAL = -5,   /* a well-formed value that is not allowed here */
    SCRY_ELIMIT = -6,   /* a configured limit was exceeded */
    SCRY_ENOTFOUND = -7,
    SCRY_ETIMEOUT = -8,
    SCRY_EEXIST = -9,   /* something already exists or is held (a lock) */
};

#define SCRY_ERR_MSG_MAX 512

struct scry_err {
    int code;          /* a SCRY_E* value, 0 when clear */
    int sys_errno;     /* errno of the failed syscall, or 0 */
    const char *file;  /* for positioned errors: the file name, or NULL */
    int line, col;     /* 1-based; 0 when unknown */
    size_t offset;     /* byte offset for binary inputs, when meaningful */
    char msg[SCRY_ERR_MSG_MAX];
};

/* Clears err (NULL is a no-op). */
void scry_err_clear(struct scry_err *err);

/* Fills err (when not NULL) and returns code, so callers can write
 * `return scry_err_set(err, SCRY_EINVAL, "bad %s", what);`. */
int scry_err_set(struct scry_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like scry_err_set, and records errno (read at the call) in sys_errno and
 * appends ": strerror(errno)" to the message. */
int scry_err_sys(struct scry_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to the message; keeps code and position. Returns code. */
int scry_err_prefix(struct scry_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records a text position (1-based line and column) for file (may be NULL). */
void scry_err_pos(struct scry_err *err, const char *file, int line, int col);

/* Writes "file:line:col: msg" (or just msg without a position) into buf. */
void scry_err_format(const struct scry_err *err, char *buf, size_t len);

/* A short static name for a code: "nomem", "io", "corrupt", ... */
const char *scry_errcode_name(int code);

#endif
