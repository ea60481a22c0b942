/* http_internal.h — shared by core/http*.c only, not API (STYLE.md §2). */
#ifndef SCRY_CORE_HTTP_INTERNAL_H
#define SCRY_CORE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/http.h"

/* Percent-decodes s[0..len) into a NUL-terminated arena string; with
 * plus_is_space, '+' becomes ' ' (form and query encoding, not paths).
 * SCRY_EPARSE for a '%' not followed by two hex digits. */
int scry__http_unescape(struct scry_arena *a, const char *s, size_t len, bool plus_is_space,
                        char **out, size_t *out_len, struct scry_err *err);

/* Appends one parameter to the arena-grown vector *v. */
void scry__http_param_push(struct scry_arena *a, struct scry_http_param **v, size_t *n,
                           size_t *cap, const char *key, const char *value);

/* gzip-compresses in into out (appending) for responses. Returns false when
 * zlib fails, leaving out unspecified. */
bool scry__http_gzip(const char *in, size_t len, struct scry_buf *out);

#endif
