/* http_params.c — query-string and form decoding, parameter lookup.
 *
 * Grafana sends the same parameters either in the URL (GET) or as an
 * application/x-www-form-urlencoded body (POST), and retries a POST as GET
 * on 400/405, so handlers must not care which. We therefore merge both into
 * one ordered list the way Go's r.Form does: body parameters first, then URL
 * parameters, repeated keys kept in order (match[]=a&match[]=b), '+' read as
 * a space and %XX decoded. A malformed escape is an error (400), as in Go's
 * url.ParseQuery, rather than being passed through: a selector silently
 * altered would return the wrong series.
 *
 * Everything lives in the request arena; the list grows by doubling, so the
 * few abandoned copies cost at most as much as the final list. */
#include "core/http.h"
#include "core/http_internal.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int scry__http_unescape(struct scry_arena *a, const char *s, size_t len, bool plus_is_space,
                        char **out, size_t *out_len, struct scry_err *err)
{
    char *d = scry_arena_alloc(a, len + 1); /* decoding never grows the text */
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < len ? hex_val((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_val((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                size_t m = len - i < 3 ? len - i : 3;
                return scry_err_set(err, SCRY_EPARSE, "invalid URL escape \"%.*s\"", (int)m,
                                    s + i);
            }
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            d[n++] = ' ';
        } else {
            d[n++] = (char)c;
        }
    }
    assert(n <= len);
    d[n] = 0;
    *out = d;
    if (out_len)
        *out_len = n;
    return 0;
}

void scry__http_param_push(struct scry_arena *a, struct scry_http_param **v, size_t *n,
                           size_t *cap, const char *key, const char *value)
{
    assert(*n <= *cap);
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct scry_http_param *nv = scry_arena_alloc(a, ncap * sizeof *nv);
        if (*n)
            memcpy(nv, *v, *n * sizeof *nv);
        *v = nv;
        *cap = ncap;
    }
    (*v)[*n].key = key;
    (*v)[*n].value = value;
    (*n)++;
}

int scry_http_form_parse(struct scry_arena *a, const char *s, size_t len,
                         struct scry_http_param **v, size_t *n, size_t *cap,
                         struct scry_err *err)
{
    if (!a || !v || !n || !cap || (!s && len))
        return scry_err_set(err, SCRY_EINVAL, "form parse: bad arguments");
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) { /* "a=1&&b=2": empty pieces are skipped, as in Go */
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
            char *k, *val;
            int rc = scry__http_unescape(a, s + i, klen, true, &k, NULL, err);
            if (rc == 0) {
                if (eq)
                    rc = scry__http_unescape(a, eq + 1, end - i - klen - 1, true, &val, NULL,
                                             err);
                else
                    val = scry_arena_strdup(a, "");
            }
            if (rc != 0) {
                if (err)
                    err->offset = i;
                return rc;
            }
            scry__http_param_push(a, v, n, cap, k, val);
        }
        i = end + 1;
    }
    return 0;
}

/* ---- lookup ------------------------------------------------------------ */

const char *scry_http_header(const struct scry_http_req *req, const char *name)
{
    if (!req || !req->conn || !name)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND,
                                       name);
}

const char *scry_http_param(const struct scry_http_req *req, const char *key)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].key, key) == 0)
            return req->params[i].value;
    return NULL;
}

size_t scry_http_param_all(const struct scry_http_req *req, const char *key, const char ***out)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_params; i++)
        n += strcmp(req->params[i].key, key) == 0;
    const char **v = scry_arena_alloc(req->arena, (n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].key, key) == 0)
            v[k++] = req->params[i].value;
    assert(k == n);
    *out = v;
    return n;
}

const char *scry_http_path_param(const struct scry_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_path_params; i++)
        if (strcmp(req->path_params[i].key, name) == 0)
            return req->path_params[i].value;
    return NULL;
}
