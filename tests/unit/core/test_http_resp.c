/* Tests core/http_resp.c's streamed bodies (scry_http_resp.stream): a real
 * server on 127.0.0.1:0 whose handler streams a generated body of n bytes
 * in uneven pieces; every way of reading it (HTTP/1.1 chunked, gzip,
 * HTTP/1.0 to connection close, HEAD, a client that leaves early) must see
 * exactly the bytes the same generator writes into one buffer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "core/http.h"

#define PREFIX "<<<" /* written into resp.body by the handler, before the stream */

/* ---- the body ---------------------------------------------------------- */

/* Byte p of the generated body: letters that depend on the position (so a
 * lost, repeated or reordered piece shows), a newline every 80. */
static char gen_byte(size_t p)
{
    return p % 80 == 79 ? '\n' : (char)('a' + (p * 7 + p / 1000) % 26);
}

/* The whole body in one buffer: the old, buffered way. */
static void reference(struct scry_buf *b, size_t n)
{
    scry_buf_puts(b, PREFIX);
    scry_buf_reserve(b, n);
    for (size_t p = 0; p < n; p++)
        b->p[b->len++] = gen_byte(p);
    b->p[b->len] = 0;
}

struct gen {
    size_t n, pos;
    unsigned call;
    int *n_calls; /* shared with the fixture: the producer ran */
};

/* Pieces of 1 byte up to 200 KB, so core must cope with a producer that
 * gives less than a chunk and one that gives several at once. */
static bool gen_fill(void *ud, struct scry_buf *out)
{
    static const size_t sizes[] = { 1, 777, 70000, 200000, 4096 };
    struct gen *g = ud;
    /* core's promise (http.h): producers may count their chunk by out->len */
    assert_true(out->len < SCRY_HTTP_STREAM_CHUNK_BYTES);
    size_t k = sizes[g->call++ % 5];
    if (k > g->n - g->pos)
        k = g->n - g->pos;
    for (size_t i = 0; i < k; i++)
        scry_buf_putc(out, gen_byte(g->pos + i));
    g->pos += k;
    __atomic_add_fetch(g->n_calls, 1, __ATOMIC_RELAXED);
    return g->pos == g->n;
}

struct fixture {
    struct scry_http_server *srv;
    int port;
    int n_calls;
};

static void h_stream(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct fixture *f = ud;
    const char *n = scry_http_param(req, "n");
    struct gen *g = scry_arena_calloc(req->arena, 1, sizeof *g);
    g->n = n ? strtoull(n, NULL, 10) : 0;
    g->n_calls = &f->n_calls;
    scry_buf_puts(&resp->body, PREFIX);
    resp->content_type = "text/plain";
    scry_http_resp_header(resp, "X-Test", "streamed");
    resp->stream = gen_fill;
    resp->stream_ud = g;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    assert_int_equal(scry_http_server_create(&f->srv, &o, NULL), 0);
    scry_http_server_route(f->srv, "GET", "/stream", h_stream, f, 0);
    assert_int_equal(scry_http_server_start(f->srv, NULL), 0);
    f->port = scry_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    scry_http_server_destroy(f->srv);
    free(f);
    return 0;
}

/* ---- clients ----------------------------------------------------------- */

struct reply {
    long status;
    struct scry_buf body, headers;
    long n_connects; /* new connections this transfer needed */
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

/* GET (or HEAD) with curl; c may be reused for keep-alive. accept_enc
 * "gzip" makes curl ask for and decode gzip. */
static struct reply fetch(CURL *c, int port, const char *method, size_t n, const char *accept_enc)
{
    struct reply r = { 0 };
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream?n=%zu", port, n);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, accept_enc);
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r.n_connects);
    scry_buf_puts(&r.body, "");
    scry_buf_puts(&r.headers, "");
    return r;
}

static void reply_fini(struct reply *r)
{
    scry_buf_fini(&r->body);
    scry_buf_fini(&r->headers);
}

#define assert_contains(hay, needle)                                                     \
    do {                                                                                 \
        if (!strcasestr((hay), (needle)))                                                \
            fail_msg("expected \"%s\" in \"%.2000s\"", (needle), (hay));                 \
    } while (0)
#define assert_lacks(hay, needle)                                                        \
    do {                                                                                 \
        if (strcasestr((hay), (needle)))                                                 \
            fail_msg("did not expect \"%s\" in \"%.2000s\"", (needle), (hay));           \
    } while (0)

static void assert_body(const struct scry_buf *got, size_t n)
{
    struct scry_buf want = { 0 };
    reference(&want, n);
    assert_int_equal(got->len, want.len);
    assert_memory_equal(got->p, want.p, want.len);
    scry_buf_fini(&want);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Sends req and reads until the server closes (or max bytes); returns the
 * raw response. */
static void raw_exchange(int port, const char *req, struct scry_buf *out, size_t max)
{
    int fd = connect_to(port);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    char tmp[65536];
    ssize_t k;
    while (out->len < max && (k = recv(fd, tmp, sizeof tmp, 0)) > 0)
        scry_buf_put(out, tmp, (size_t)k);
    close(fd);
    scry_buf_puts(out, "");
}

/* ---- tests ------------------------------------------------------------- */

#define BIG ((size_t)6 << 20) /* 6 MiB: ~100 chunks of 64 KiB */

static void test_http_resp_stream_large_is_chunked_and_identical(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct reply r = fetch(c, f->port, "GET", BIG, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.headers.p, "Transfer-Encoding: chunked");
    assert_lacks(r.headers.p, "Content-Length");
    assert_contains(r.headers.p, "Content-Type: text/plain");
    assert_contains(r.headers.p, "X-Test: streamed");
    assert_contains(r.headers.p, "Vary: Accept-Encoding");
    assert_body(&r.body, BIG);
    assert_true(f->n_calls > 20); /* produced piece by piece, not up front */
    reply_fini(&r);
    /* The connection stays open for the next request (keep-alive after a
     * chunked body), and a second stream on it is as exact. */
    r = fetch(c, f->port, "GET", BIG / 3 + 1, NULL);
    assert_int_equal(r.n_connects, 0);
    assert_body(&r.body, BIG / 3 + 1);
    reply_fini(&r);
    curl_easy_cleanup(c);
}

static void test_http_resp_stream_gzip_is_identical_after_decoding(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct reply r = fetch(c, f->port, "GET", BIG, "gzip");
    assert_int_equal(r.status, 200);
    assert_contains(r.headers.p, "Content-Encoding: gzip");
    assert_contains(r.headers.p, "Transfer-Encoding: chunked");
    assert_body(&r.body, BIG);
    reply_fini(&r);
    /* and the compressed size is what gzip makes of it (it was compressed,
     * not passed through): the raw transfer is much smaller */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    r = fetch(c, f->port, "GET", BIG, "gzip");
    assert_true(r.body.len < BIG / 4);
    assert_true(r.body.len > 2 && (unsigned char)r.body.p[0] == 0x1f &&
                (unsigned char)r.body.p[1] == 0x8b);
    reply_fini(&r);
    curl_easy_cleanup(c);
}

static void test_http_resp_stream_small_goes_out_whole(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    for (size_t n = 0; n <= 60000; n += 30000) {
        struct reply r = fetch(c, f->port, "GET", n, NULL);
        char cl[64];
        snprintf(cl, sizeof cl, "Content-Length: %zu", n + strlen(PREFIX));
        assert_contains(r.headers.p, cl);
        assert_lacks(r.headers.p, "Transfer-Encoding");
        assert_body(&r.body, n);
        reply_fini(&r);
    }
    /* gzip as for any buffered body over 1 KiB */
    struct reply r = fetch(c, f->port, "GET", 30000, "gzip");
    assert_contains(r.headers.p, "Content-Encoding: gzip");
    assert_contains(r.headers.p, "Content-Length: ");
    assert_body(&r.body, 30000);
    reply_fini(&r);
    curl_easy_cleanup(c);
}

static void test_http_resp_stream_http10_reads_to_close(void **state)
{
    struct fixture *f = *state;
    char req[128];
    snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.0\r\nHost: x\r\n\r\n", BIG);
    struct scry_buf raw = { 0 };
    raw_exchange(f->port, req, &raw, SIZE_MAX); /* returns when the server closes */
    char *eoh = strstr(raw.p, "\r\n\r\n");
    assert_non_null(eoh);
    *eoh = 0;
    assert_contains(raw.p, " 200 ");
    assert_lacks(raw.p, "chunked"); /* HTTP/1.0 has no chunks */
    assert_lacks(raw.p, "Content-Length");
    struct scry_buf body = { 0 };
    scry_buf_put(&body, eoh + 4, raw.len - (size_t)(eoh + 4 - raw.p));
    assert_body(&body, BIG);
    scry_buf_fini(&body);
    scry_buf_fini(&raw);

    /* a small body still has its Content-Length for HTTP/1.0 */
    snprintf(req, sizeof req, "GET /stream?n=1000 HTTP/1.0\r\n\r\n");
    raw_exchange(f->port, req, &raw, SIZE_MAX);
    assert_contains(raw.p, "Content-Length: 1003");
    scry_buf_fini(&raw);
}

static void test_http_resp_stream_head_has_content_length(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct reply r = fetch(c, f->port, "HEAD", BIG, NULL);
    assert_int_equal(r.status, 200);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu", BIG + strlen(PREFIX));
    assert_contains(r.headers.p, cl);
    assert_lacks(r.headers.p, "Transfer-Encoding");
    assert_int_equal(r.body.len, 0);
    reply_fini(&r);
    curl_easy_cleanup(c);
}

/* A client that reads a little and hangs up: the producer is not called to
 * the end, nothing leaks (ASan), and the server answers the next request. */
static void test_http_resp_stream_client_leaves_early(void **state)
{
    struct fixture *f = *state;
    char req[128];
    snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n", (size_t)64 << 20);
    struct scry_buf raw = { 0 };
    raw_exchange(f->port, req, &raw, 300000);
    assert_contains(raw.p, "Transfer-Encoding: chunked");
    scry_buf_fini(&raw);
    CURL *c = curl_easy_init();
    struct reply r = fetch(c, f->port, "GET", 100000, NULL);
    assert_int_equal(r.status, 200);
    assert_body(&r.body, 100000);
    reply_fini(&r);
    curl_easy_cleanup(c);
    /* 64 MiB would take ~1300 producer calls: far fewer ran */
    assert_true(f->n_calls < 1000);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_resp_stream_large_is_chunked_and_identical,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_resp_stream_gzip_is_identical_after_decoding,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_resp_stream_small_goes_out_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_resp_stream_http10_reads_to_close, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_resp_stream_head_has_content_length, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_resp_stream_client_leaves_early, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
