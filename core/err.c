/* err.c — filling, prefixing and formatting struct scry_err. */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void scry_err_clear(struct scry_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

static int vset(struct scry_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int scry_err_set(struct scry_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int scry_err_sys(struct scry_err *err, int code, const char *fmt, ...)
{
    int e = errno; /* read first: vsnprintf may clobber it */
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    if (err) {
        size_t n = strlen(err->msg);
        err->sys_errno = e;
        snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
    }
    return code;
}

int scry_err_prefix(struct scry_err *err, const char *fmt, ...)
{
    if (!err)
        return 0;
    char pre[SCRY_ERR_MSG_MAX], old[SCRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A long chain of prefixes is cut at SCRY_ERR_MSG_MAX; using the result
     * tells -Wformat-truncation that this is intended. */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old) >= (int)sizeof err->msg)
        err->msg[sizeof err->msg - 1] = 0;
    return err->code;
}

void scry_err_pos(struct scry_err *err, const char *file, int line, int col)
{
    if (!err)
        return;
    err->file = file;
    err->line = line;
    err->col = col;
}

void scry_err_format(const struct scry_err *err, char *buf, size_t len)
{
    if (err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s", err->file ? err->file : "<input>", err->line,
                 err->col, err->msg);
    else
        snprintf(buf, len, "%s", err->msg);
}

const char *scry_errcode_name(int code)
{
    switch (code) {
    case SCRY_OK: return "ok";
    case SCRY_ENOMEM: return "nomem";
    case SCRY_EIO: return "io";
    case SCRY_ECORRUPT: return "corrupt";
    case SCRY_EPARSE: return "parse";
    case SCRY_EINVAL: return "invalid";
    case SCRY_ELIMIT: return "limit";
    case SCRY_ENOTFOUND: return "notfound";
    case SCRY_ETIMEOUT: return "timeout";
    case SCRY_EEXIST: return "exist";
    }
    return "unknown";
}
