/* collector/: the libcurl TLS setup shared by the scraper and the
 * remote_write sender (tls_config), and the secret files their auth
 * settings name. Internal to collector/. */
#ifndef SCRY_COLLECTOR_HTTP_TLS_H
#define SCRY_COLLECTOR_HTTP_TLS_H

#include <curl/curl.h>

#include "core/buf.h"
#include "core/config.h"

/* How a request reaches its server when tls_config.server_name is set.
 * libcurl takes the SNI name and the name the certificate is checked
 * against from the URL's host, so the URL's host becomes server_name, the
 * TCP connection is pinned to the real address with CURLOPT_CONNECT_TO,
 * and the Host header keeps the real host:port (as Prometheus sends it).
 * All NULL when no rewrite is needed (no server_name, or not https). */
struct col__tls_route {
    char *url;                     /* the URL with server_name as its host */
    struct curl_slist *connect_to; /* "server_name:port:real_host:real_port" */
    char *host_hdr;                /* "Host: real_host[:port]" */
};

/* Works out r for url and tls. 0, or SCRY_EINVAL (the URL does not parse)
 * or SCRY_ENOMEM; r is all NULL on error. */
int col__tls_route_init(struct col__tls_route *r, const char *url,
                        const struct scry_tls_config *tls);
void col__tls_route_free(struct col__tls_route *r);

/* Sets ca_file, cert/key, insecure_skip_verify on c and, when r has a
 * rewrite, the rewritten URL and CURLOPT_CONNECT_TO (call it after
 * CURLOPT_URL). r stays in use by c until the transfer ends. */
void col__tls_apply(CURL *c, const struct scry_tls_config *tls, const struct col__tls_route *r);

/* Appends r's Host header to h (when r has a rewrite) and returns the list;
 * the caller sets CURLOPT_HTTPHEADER. */
struct curl_slist *col__tls_route_headers(const struct col__tls_route *r, struct curl_slist *h);

/* The first 4 KiB of the file at path with any trailing bytes from trim
 * removed (the scraper also trims spaces, the sender only "\r\n"), as a
 * malloc'd string; NULL when it cannot be opened. Read on every request,
 * as Prometheus does, so a rotated secret takes effect without a reload. */
char *col__read_secret(const char *path, const char *trim);

/* What a push sender keeps of a response: the start of its body (to log
 * and classify a failure) and its Retry-After header. Shared by the
 * remote_write shards and the Loki sender. */
struct col__http_capture {
    struct scry_buf body;  /* first COL__HTTP_KEEP_BYTES; see _done */
    char retry_after[64];  /* "" when the response had none */
};
#define COL__HTTP_KEEP_BYTES 1024

/* Points c's body and header callbacks at cap (once, at handle setup). */
void col__http_capture_apply(CURL *c, struct col__http_capture *cap);
/* Forgets the last response; call before each request. */
void col__http_capture_reset(struct col__http_capture *cap);
/* NUL-terminates body.p after a request (body.len unchanged). */
void col__http_capture_done(struct col__http_capture *cap);

/* Bytes of v as a protobuf varint. */
static inline size_t col__varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#endif
