/* http_client.h — the libcurl client of the receivers' HTTP tests
 * (remote_write, OTLP, Loki push): one request to 127.0.0.1:<port> with its
 * status, body and response headers, optionally chunked, and gzip for
 * bodies. Include after <cmocka.h>. */
#ifndef SCRY_TESTS_HTTP_CLIENT_H
#define SCRY_TESTS_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"

struct reply {
    long status;
    struct scry_buf body, hdrs; /* NUL-terminated, "" when empty */
};

static inline size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

struct upload {
    const char *p;
    size_t len, off;
};

static inline size_t on_read(char *out, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;
    if (k > 100)
        k = 100; /* many small chunks */
    if (k > u->len - u->off)
        k = u->len - u->off;
    memcpy(out, u->p + u->off, k);
    u->off += k;
    return k;
}

/* Sends body to path with the headers (NULL-terminated; "Name:" removes
 * one of curl's). method NULL is POST; chunked sends the body with
 * Transfer-Encoding: chunked and no Content-Length, as the OpenTelemetry
 * JS exporters do. Fails the test when no response arrives. */
static inline struct reply http_request(int port, const char *method, const char *path,
                                        const void *body, size_t len, const char *const *hdrs,
                                        bool chunked)
{
    struct reply r = { 0 };
    scry_buf_puts(&r.body, "");
    scry_buf_puts(&r.hdrs, "");
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    for (size_t k = 0; hdrs && hdrs[k]; k++)
        h = curl_slist_append(h, hdrs[k]);
    struct upload u = { body, len, 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (method) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (chunked) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static inline void reply_fini(struct reply *r)
{
    scry_buf_fini(&r->body);
    scry_buf_fini(&r->hdrs);
}

/* A gzip member of p, malloc'd. */
static inline char *gzip_of(const void *p, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 32;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

#endif
