/* tls_config for libcurl handles: see http_tls.h. */
#include "collector/http_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/mem.h"

void col__tls_route_free(struct col__tls_route *r)
{
    free(r->url);
    curl_slist_free_all(r->connect_to);
    free(r->host_hdr);
    r->url = NULL;
    r->connect_to = NULL;
    r->host_hdr = NULL;
}

/* The parts of url the rewrite needs; NULL-free on success. */
struct parts {
    char *scheme, *host, *port, *dport; /* port: as written (may be NULL) */
};

static void parts_free(struct parts *p)
{
    curl_free(p->scheme);
    curl_free(p->host);
    curl_free(p->port);
    curl_free(p->dport);
}

int col__tls_route_init(struct col__tls_route *r, const char *url,
                        const struct scry_tls_config *tls)
{
    memset(r, 0, sizeof *r);
    if (!tls || !tls->server_name || !tls->server_name[0])
        return 0;
    CURLU *u = curl_url();
    if (!u)
        return SCRY_ENOMEM;
    struct parts p = {0};
    int rc = SCRY_EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &p.scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &p.host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &p.dport, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    /* server_name only changes the TLS handshake; plain http is left as is. */
    if (strcasecmp(p.scheme, "https") != 0) {
        rc = 0;
        goto out;
    }
    /* Without an explicit port the Host header has none either (Go's
     * net/http sends the URL's host as written). */
    if (curl_url_get(u, CURLUPART_PORT, &p.port, 0) != CURLUE_OK)
        p.port = NULL;
    /* CURLUPART_HOST keeps the brackets of an IPv6 literal, which is what
     * both the Host header and CURLOPT_CONNECT_TO's target want. A
     * server_name is a DNS name, so it needs none. */
    rc = SCRY_ENOMEM;
    size_t n = strlen(tls->server_name) + strlen(p.host) + 2 * strlen(p.dport) + 4;
    char *ct = malloc(n);
    size_t hn = strlen(p.host) + (p.port ? strlen(p.port) : 0) + 16;
    r->host_hdr = malloc(hn);
    if (!ct || !r->host_hdr) {
        free(ct);
        goto out;
    }
    snprintf(ct, n, "%s:%s:%s:%s", tls->server_name, p.dport, p.host, p.dport);
    if (p.port)
        snprintf(r->host_hdr, hn, "Host: %s:%s", p.host, p.port);
    else
        snprintf(r->host_hdr, hn, "Host: %s", p.host);
    r->connect_to = curl_slist_append(NULL, ct);
    free(ct);
    if (!r->connect_to)
        goto out;
    char *nu = NULL;
    if (curl_url_set(u, CURLUPART_HOST, tls->server_name, 0) != CURLUE_OK) {
        rc = SCRY_EINVAL; /* server_name is not a host name */
        goto out;
    }
    if (curl_url_get(u, CURLUPART_URL, &nu, 0) != CURLUE_OK)
        goto out;
    r->url = strdup(nu);
    curl_free(nu);
    if (r->url)
        rc = 0;
out:
    parts_free(&p);
    curl_url_cleanup(u);
    if (rc < 0 || !r->url)
        col__tls_route_free(r);
    return rc;
}

void col__tls_apply(CURL *c, const struct scry_tls_config *tls, const struct col__tls_route *r)
{
    if (tls->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca_file);
    if (tls->cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert_file);
    if (tls->key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, tls->key_file);
    if (tls->insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r && r->url) {
        curl_easy_setopt(c, CURLOPT_URL, r->url);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, r->connect_to);
    }
}

struct curl_slist *col__tls_route_headers(const struct col__tls_route *r, struct curl_slist *h)
{
    if (!r || !r->host_hdr)
        return h;
    struct curl_slist *n = curl_slist_append(h, r->host_hdr);
    return n ? n : h;
}

char *col__read_secret(const char *path, const char *trim)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && buf[n - 1] && strchr(trim, buf[n - 1]))
        n--;
    return scry_strndup(buf, n);
}

/* ---- response capture -------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct col__http_capture *c = ud;
    size_t len = size * n;
    if (c->body.len < COL__HTTP_KEEP_BYTES)
        scry_buf_put(&c->body, p, len < COL__HTTP_KEEP_BYTES - c->body.len
                                      ? len : COL__HTTP_KEEP_BYTES - c->body.len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct col__http_capture *c = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        size_t vl = len - 12 < sizeof c->retry_after - 1 ? len - 12 : sizeof c->retry_after - 1;
        memcpy(c->retry_after, p + 12, vl);
        c->retry_after[vl] = 0;
    }
    return len;
}

void col__http_capture_apply(CURL *c, struct col__http_capture *cap)
{
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, cap);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, cap);
}

void col__http_capture_reset(struct col__http_capture *cap)
{
    scry_buf_reset(&cap->body);
    cap->retry_after[0] = 0;
}

void col__http_capture_done(struct col__http_capture *cap)
{
    scry_buf_putc(&cap->body, 0);
    cap->body.len--;
}
