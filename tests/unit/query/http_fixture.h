/* http_fixture.h — the libcurl client of the query API tests (Loki and
 * Prometheus): one request to 127.0.0.1:<port>, its status, content type
 * and body. Include after <cmocka.h>. */
#ifndef SCRY_TESTS_QUERY_HTTP_FIXTURE_H
#define SCRY_TESTS_QUERY_HTTP_FIXTURE_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct reply {
    long status;
    char *body;      /* NUL-terminated, "" when empty */
    char ctype[128]; /* Content-Type, "" when none */
};

/* libcurl write callback: appends to the struct scry_buf ud. */
static inline size_t collect(char *p, size_t size, size_t n, void *ud)
{
    scry_buf_put(ud, p, size * n);
    return size * n;
}

/* The one reply: each request frees the previous body; main frees the
 * last one (free(last_reply.body)). */
static struct reply last_reply;

/* method NULL is GET; body is a form body (POST) or NULL; extra is one
 * header line or NULL. Fails the test when no response arrives. */
static inline struct reply *http_request(int port, const char *method, const char *path,
                                         const char *body, const char *extra)
{
    struct reply *rp = &last_reply;
    free(rp->body);
    memset(rp, 0, sizeof *rp);
    struct scry_buf b = { 0 };
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = extra ? curl_slist_append(NULL, extra) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rp->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(rp->ctype, sizeof rp->ctype, "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    rp->body = b.p ? scry_buf_take(&b) : strdup("");
    return rp;
}

#endif
