/* Tests core/http*.c: a real server on 127.0.0.1:0, driven with libcurl.
 * The form and body decoders on their own: test_http_body.c. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <snappy-c.h>
#include <zlib.h>

#include "core/arena.h"
#include "core/http.h"
#include "core/json.h"

/* ---- fixture ----------------------------------------------------------- */

struct fixture {
    struct scry_http_server *srv;
    int port;
    pthread_mutex_t mu;
    int n_observed;
    char seen_route[32][128]; /* every observation, in completion order */
    int seen_status[32];
};

static void observe(void *ud, const char *method, const char *route, int status, double s)
{
    struct fixture *f = ud;
    pthread_mutex_lock(&f->mu);
    if (f->n_observed < 32) {
        snprintf(f->seen_route[f->n_observed], sizeof f->seen_route[0], "%s %s", method, route);
        f->seen_status[f->n_observed] = status;
    }
    f->n_observed++;
    pthread_mutex_unlock(&f->mu);
}

static void put_params(struct scry_json *j, const struct scry_http_param *p, size_t n)
{
    scry_json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        scry_json_arr_begin(j);
        scry_json_str(j, p[i].key);
        scry_json_str(j, p[i].value);
        scry_json_arr_end(j);
    }
    scry_json_arr_end(j);
}

/* Echoes what the handler saw, as JSON. */
static void h_echo(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct scry_json j;
    scry_json_init(&j, &resp->body);
    scry_json_obj_begin(&j);
    scry_json_key(&j, "method");
    scry_json_str(&j, req->method);
    scry_json_key(&j, "path");
    scry_json_str(&j, req->path);
    scry_json_key(&j, "route");
    scry_json_str(&j, req->route);
    scry_json_key(&j, "params");
    put_params(&j, req->params, req->n_params);
    scry_json_key(&j, "pp");
    put_params(&j, req->path_params, req->n_path_params);
    scry_json_key(&j, "match");
    const char **m;
    size_t n = scry_http_param_all(req, "match[]", &m);
    scry_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++)
        scry_json_str(&j, m[i]);
    scry_json_arr_end(&j);
    scry_json_key(&j, "body_len");
    scry_json_uint(&j, req->body_len);
    scry_json_key(&j, "body");
    scry_json_strn(&j, req->body, req->body_len);
    scry_json_key(&j, "ua");
    scry_json_str(&j, scry_http_header(req, "user-agent"));
    scry_json_obj_end(&j);
    scry_http_resp_header(resp, "X-Test", "yes");
}

static void h_name(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    scry_buf_printf(&resp->body, "name=%s", scry_http_path_param(req, "name"));
    resp->content_type = "text/plain";
}

static void h_big(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    for (int i = 0; i < 2000; i++)
        scry_buf_printf(&resp->body, "line %d\n", i);
    resp->content_type = "text/plain";
}

static void h_slow(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    struct timespec ts = { 0, 400 * 1000000L };
    nanosleep(&ts, NULL);
    scry_buf_puts(&resp->body, "slow done");
}

static void h_fail(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    scry_http_error(resp, 422, "execution", "bad \"%s\"\n", "thing");
}

/* The observer runs when MHD completes a request, which may be just after
 * the client has read the response, and requests on different connections
 * complete in any order: wait for n observations, then look for the wanted
 * one among them (asserting with the lock held would leave it held). */
/* Upgrades to an echo protocol: what arrives goes back, until the client
 * closes or the server stops (then it says "bye"). */
static void echo_session(struct scry_http_upgraded *u, void *ud)
{
    char buf[256];
    for (;;) {
        if (scry_http_upgraded_stopping(u)) {
            scry_http_upgraded_write(u, "bye", 3);
            return;
        }
        ssize_t n = scry_http_upgraded_read(u, buf, sizeof buf, 50);
        if (n < 0)
            return;
        if (n > 0 && scry_http_upgraded_write(u, buf, (size_t)n) != 0)
            return;
    }
}

static void h_upgrade(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    resp->status = 101;
    scry_http_resp_header(resp, "Upgrade", "echo");
    scry_http_resp_header(resp, "Connection", "Upgrade");
    resp->upgrade = echo_session;
    resp->upgrade_ud = NULL;
}

static bool observed(struct fixture *f, int n, const char *route, int status)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->mu);
        bool enough = f->n_observed >= n, found = false;
        for (int k = 0; enough && k < f->n_observed && k < 32; k++)
            found |= !strcmp(f->seen_route[k], route) && f->seen_status[k] == status;
        pthread_mutex_unlock(&f->mu);
        if (enough)
            return found;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return false;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    struct scry_http_opts o = { .listen = "127.0.0.1:0", .shutdown_timeout_ms = 5000,
                                .observe = observe, .observe_ud = f };
    struct scry_err err;
    assert_int_equal(scry_http_server_create(&f->srv, &o, &err), 0);
    scry_http_server_route(f->srv, "GET", "/api/v1/label/:name/values", h_name, NULL, 0);
    scry_http_server_route(f->srv, NULL, "/echo", h_echo, NULL, 0);
    scry_http_server_route(f->srv, "POST", "/small", h_echo, NULL, 1000);
    scry_http_server_route(f->srv, "GET", "/only-get", h_echo, NULL, 0);
    scry_http_server_route(f->srv, "PUT", "/only-get", h_echo, NULL, 0);
    scry_http_server_route(f->srv, "GET", "/big", h_big, NULL, 0);
    scry_http_server_route(f->srv, "GET", "/slow", h_slow, NULL, 0);
    scry_http_server_route(f->srv, "GET", "/fail", h_fail, NULL, 0);
    scry_http_server_route(f->srv, "GET", "/static/*file", h_echo, NULL, 0);
    scry_http_server_route(f->srv, "GET", "/upgrade", h_upgrade, NULL, 0);
    assert_int_equal(scry_http_server_start(f->srv, &err), 0);
    f->port = scry_http_server_port(f->srv);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    scry_http_server_destroy(f->srv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* ---- client ------------------------------------------------------------ */

struct reply {
    long status;
    struct scry_buf body, headers;
    CURLcode rc;
};

struct upload {
    const char *p;
    size_t len, pos;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    scry_buf_put(ud, p, sz * n);
    return sz * n;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;
    if (k > u->len - u->pos)
        k = u->len - u->pos;
    memcpy(p, u->p + u->pos, k);
    u->pos += k;
    return k;
}

/* One request. chunked: send body with Transfer-Encoding: chunked. hdrs is a
 * NULL-terminated list or NULL. */
static struct reply request(int port, const char *method, const char *path, const char *body,
                            size_t body_len, bool chunked, const char **hdrs,
                            const char *accept_enc)
{
    struct reply r = { 0 };
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *sl = NULL;
    struct upload u = { body, body_len, 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "scry-test");
    if (accept_enc)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, accept_enc);
    for (; hdrs && *hdrs; hdrs++)
        sl = curl_slist_append(sl, *hdrs);
    if (chunked) {
        sl = curl_slist_append(sl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    if (!r.body.p)
        scry_buf_puts(&r.body, "");
    if (!r.headers.p)
        scry_buf_puts(&r.headers, "");
    return r;
}

static struct reply get(int port, const char *path)
{
    return request(port, "GET", path, NULL, 0, false, NULL, NULL);
}

static void reply_fini(struct reply *r)
{
    scry_buf_fini(&r->body);
    scry_buf_fini(&r->headers);
}

#define assert_contains(hay, needle)                                                     \
    do {                                                                                 \
        if (!strstr((hay), (needle)))                                                    \
            fail_msg("expected \"%s\" in \"%.2000s\"", (needle), (hay));                 \
    } while (0)

/* ---- server tests ------------------------------------------------------ */

static void test_http_routes_with_path_params(void **state)
{
    struct fixture *f = *state;
    struct reply r = get(f->port, "/api/v1/label/job%2Fx/values");
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "name=job/x");
    assert_contains(r.headers.p, "Content-Type: text/plain");
    reply_fini(&r);

    r = get(f->port, "/static/js/app%20x.js?v=1");
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"pp\":[[\"file\",\"js/app x.js\"]]");
    assert_contains(r.body.p, "\"route\":\"/static/*file\"");
    assert_contains(r.headers.p, "X-Test: yes");
    reply_fini(&r);

    /* HEAD is served by GET routes. */
    r = request(f->port, "HEAD", "/only-get", NULL, 0, false, NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_fini(&r);
}

static void test_http_not_found_and_method_not_allowed(void **state)
{
    struct fixture *f = *state;
    struct reply r = get(f->port, "/nope");
    assert_int_equal(r.status, 404);
    assert_contains(r.body.p, "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":");
    assert_contains(r.headers.p, "Content-Type: application/json");
    reply_fini(&r);

    r = get(f->port, "/api/v1/label/x/values/extra");
    assert_int_equal(r.status, 404);
    reply_fini(&r);

    r = request(f->port, "DELETE", "/only-get", NULL, 0, false, NULL, NULL);
    assert_int_equal(r.status, 405);
    assert_contains(r.body.p, "\"status\":\"error\"");
    assert_contains(r.headers.p, "Allow: GET, PUT");
    reply_fini(&r);

    r = get(f->port, "/echo%zz");
    assert_int_equal(r.status, 400);
    assert_contains(r.body.p, "bad_data");
    reply_fini(&r);

    assert_true(observed(f, 4, "GET ", 400));

    r = get(f->port, "/fail");
    assert_int_equal(r.status, 422);
    assert_string_equal(r.body.p, "{\"status\":\"error\",\"errorType\":\"execution\","
                                  "\"error\":\"bad \\\"thing\\\"\\n\"}");
    reply_fini(&r);
}

static void test_http_params_merge_body_first(void **state)
{
    struct fixture *f = *state;
    const char *form = "match%5B%5D=up&match[]=%7Bjob%3D%22a+b%22%7D&q=1%2B1";
    const char *hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct reply r = request(f->port, "POST", "/echo?match[]=last&x=a+b%26c&flag", form,
                             strlen(form), false, hdrs, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"match\":[\"up\",\"{job=\\\"a b\\\"}\",\"last\"]");
    assert_contains(r.body.p, "[\"q\",\"1+1\"],[\"match[]\",\"last\"],[\"x\",\"a b&c\"],"
                              "[\"flag\",\"\"]");
    assert_contains(r.body.p, "\"method\":\"POST\"");
    assert_contains(r.body.p, "\"ua\":\"scry-test\"");
    reply_fini(&r);

    /* GET: repeated keys, encoded or not, all come through in order. */
    r = get(f->port, "/echo?match%5B%5D=a&match[]=b&match%5b%5d=c%2Bd&match[]=");
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"match\":[\"a\",\"b\",\"c+d\",\"\"]");
    reply_fini(&r);

    /* Bad escapes in the form or the URL are 400. */
    r = request(f->port, "POST", "/echo", "a=%zz", 5, false, hdrs, NULL);
    assert_int_equal(r.status, 400);
    assert_contains(r.body.p, "invalid form body");
    reply_fini(&r);
    r = get(f->port, "/echo?a=%4");
    assert_int_equal(r.status, 400);
    assert_contains(r.body.p, "invalid query string");
    reply_fini(&r);

    /* Without the form Content-Type the body is not parameters. */
    const char *text[] = { "Content-Type: text/plain", NULL };
    r = request(f->port, "POST", "/echo?z=1", "a=1", 3, false, text, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"params\":[[\"z\",\"1\"]]");
    assert_contains(r.body.p, "\"body\":\"a=1\"");
    reply_fini(&r);
}

static void test_http_body_limit_content_length(void **state)
{
    struct fixture *f = *state;
    char *big = malloc(5000);
    memset(big, 'x', 5000);
    const char *hdrs[] = { "Expect: 100-continue", NULL };
    struct reply r = request(f->port, "POST", "/small", big, 5000, false, hdrs, NULL);
    assert_int_equal(r.status, 413);
    assert_contains(r.body.p, "exceeds the limit of 1000 bytes");
    reply_fini(&r);

    /* Without Expect the client sends the body anyway; the answer must
     * still arrive. */
    const char *no_expect[] = { "Expect:", NULL };
    r = request(f->port, "POST", "/small", big, 5000, false, no_expect, NULL);
    assert_int_equal(r.status, 413);
    reply_fini(&r);
    char *huge = calloc(1, 3 << 20);
    r = request(f->port, "POST", "/small", huge, 3 << 20, false, no_expect, NULL);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    reply_fini(&r);
    free(huge);

    r = request(f->port, "POST", "/small", big, 1000, false, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"body_len\":1000");
    reply_fini(&r);
    free(big);
}

static void test_http_body_limit_chunked(void **state)
{
    struct fixture *f = *state;
    size_t n = 300000;
    char *big = malloc(n);
    memset(big, 'y', n);
    struct reply r = request(f->port, "POST", "/small", big, n, true, NULL, NULL);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_contains(r.body.p, "\"errorType\":\"bad_data\"");
    reply_fini(&r);

    /* Under the limit, a chunked body arrives whole. */
    r = request(f->port, "POST", "/echo", big, n, true, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"body_len\":300000");
    reply_fini(&r);
    free(big);
}

static void test_http_body_gzip_deflate_snappy(void **state)
{
    struct fixture *f = *state;
    const char *form = "match[]=up&match[]=down";
    const char *h_gzip[] = { "Content-Encoding: gzip",
                             "Content-Type: application/x-www-form-urlencoded", NULL };
    /* gzip */
    unsigned char z[256];
    z_stream zs = { 0 };
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *)form;
    zs.avail_in = (uInt)strlen(form);
    zs.next_out = z;
    zs.avail_out = sizeof z;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zlen = zs.total_out;
    deflateEnd(&zs);
    struct reply r = request(f->port, "POST", "/echo", (char *)z, zlen, false, h_gzip, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"match\":[\"up\",\"down\"]");
    reply_fini(&r);

    /* the same gzip, chunked */
    r = request(f->port, "POST", "/echo", (char *)z, zlen, true, h_gzip, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"match\":[\"up\",\"down\"]");
    reply_fini(&r);

    /* corrupt gzip → 400 naming the encoding */
    z[zlen / 2] ^= 0xff;
    z[12] ^= 0x55;
    r = request(f->port, "POST", "/echo", (char *)z, zlen, false, h_gzip, NULL);
    assert_int_equal(r.status, 400);
    assert_contains(r.body.p, "gzip");
    reply_fini(&r);

    /* deflate (zlib format) */
    uLongf dlen = sizeof z;
    compress(z, &dlen, (const unsigned char *)"hello deflate", 13);
    const char *h_defl[] = { "Content-Encoding: deflate", NULL };
    r = request(f->port, "POST", "/echo", (char *)z, dlen, false, h_defl, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"body\":\"hello deflate\"");
    reply_fini(&r);

    /* snappy */
    const char *text = "snappy snappy snappy snappy body";
    char sn[128];
    size_t snlen = sizeof sn;
    assert_int_equal(snappy_compress(text, strlen(text), sn, &snlen), SNAPPY_OK);
    const char *h_snap[] = { "Content-Encoding: snappy", NULL };
    r = request(f->port, "POST", "/echo", sn, snlen, false, h_snap, NULL);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\"body\":\"snappy snappy snappy snappy body\"");
    reply_fini(&r);

    /* unknown encoding → 415 */
    const char *h_br[] = { "Content-Encoding: br", NULL };
    r = request(f->port, "POST", "/echo", "xx", 2, false, h_br, NULL);
    assert_int_equal(r.status, 415);
    reply_fini(&r);

    /* snappy claiming more than the route limit → 413 before decoding */
    char *zeros = calloc(1, 5000);
    char *sbig = malloc(snappy_max_compressed_length(5000));
    size_t sblen = snappy_max_compressed_length(5000);
    snappy_compress(zeros, 5000, sbig, &sblen);
    r = request(f->port, "POST", "/small", sbig, sblen, false, h_snap, NULL);
    assert_int_equal(r.status, 413);
    assert_contains(r.body.p, "snappy");
    reply_fini(&r);

    /* a gzip bomb against a small limit → 413 */
    unsigned char gz[256];
    z_stream zb = { 0 };
    deflateInit2(&zb, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zb.next_in = (unsigned char *)zeros;
    zb.avail_in = 5000;
    zb.next_out = gz;
    zb.avail_out = sizeof gz;
    assert_int_equal(deflate(&zb, Z_FINISH), Z_STREAM_END);
    size_t gzlen = zb.total_out;
    deflateEnd(&zb);
    const char *h_gz2[] = { "Content-Encoding: gzip", NULL };
    r = request(f->port, "POST", "/small", (char *)gz, gzlen, false, h_gz2, NULL);
    assert_int_equal(r.status, 413);
    reply_fini(&r);
    free(zeros);
    free(sbig);
}

static void test_http_response_gzip(void **state)
{
    struct fixture *f = *state;
    struct reply r = request(f->port, "GET", "/big", NULL, 0, false, NULL, "gzip");
    assert_int_equal(r.status, 200);
    assert_contains(r.headers.p, "Content-Encoding: gzip");
    assert_contains(r.body.p, "line 0\nline 1\n");
    assert_contains(r.body.p, "line 1999\n");
    size_t plain_len = r.body.len;
    reply_fini(&r);

    r = get(f->port, "/big");
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.headers.p, "Content-Encoding"));
    assert_int_equal(r.body.len, plain_len);
    reply_fini(&r);

    /* q=0 refuses gzip */
    const char *h[] = { "Accept-Encoding: gzip;q=0, identity", NULL };
    r = request(f->port, "GET", "/big", NULL, 0, false, h, NULL);
    assert_null(strstr(r.headers.p, "Content-Encoding"));
    reply_fini(&r);

    /* small bodies are not compressed */
    r = request(f->port, "GET", "/api/v1/label/a/values", NULL, 0, false, NULL, "gzip");
    assert_null(strstr(r.headers.p, "Content-Encoding"));
    assert_string_equal(r.body.p, "name=a");
    reply_fini(&r);
}

static void test_http_port_in_use_at_create(void **state)
{
    struct fixture *f = *state;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", f->port);
    struct scry_http_opts o = { .listen = addr };
    struct scry_http_server *s2 = NULL;
    struct scry_err err;
    assert_int_equal(scry_http_server_create(&s2, &o, &err), SCRY_EIO);
    assert_null(s2);
    char want[128];
    snprintf(want, sizeof want, "listen %s: Address already in use", addr);
    assert_string_equal(err.msg, want);

    o.listen = "nonsense";
    assert_int_equal(scry_http_server_create(&s2, &o, &err), SCRY_EINVAL);
    o.listen = "127.0.0.1:99999";
    assert_int_equal(scry_http_server_create(&s2, &o, &err), SCRY_EINVAL);
    assert_int_equal(scry_http_server_create(&s2, NULL, &err), SCRY_EINVAL);
    scry_http_server_destroy(NULL);
}

static void test_http_listen_address_forms(void **state)
{
    const char *addrs[] = { "localhost:0", "0.0.0.0:0", ":0", "[::1]:0" };
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        struct scry_http_opts o = { .listen = addrs[i] };
        struct scry_http_server *s = NULL;
        struct scry_err err;
        int rc = scry_http_server_create(&s, &o, &err);
        if (rc != 0 && i == 3)
            continue; /* no IPv6 in this sandbox */
        assert_int_equal(rc, 0);
        assert_true(scry_http_server_port(s) > 0);
        scry_http_server_route(s, "GET", "/x", h_name, NULL, 0);
        assert_int_equal(scry_http_server_start(s, &err), 0);
        if (i < 3) {
            struct reply r = get(scry_http_server_port(s), "/x");
            assert_int_equal(r.status, 200);
            reply_fini(&r);
        }
        scry_http_server_destroy(s);
    }
    /* created but never started */
    struct scry_http_opts o = { .listen = "127.0.0.1:0" };
    struct scry_http_server *s = NULL;
    assert_int_equal(scry_http_server_create(&s, &o, NULL), 0);
    scry_http_server_destroy(s);
}

struct slow_call {
    int port;
    struct reply r;
};

static void *slow_thread(void *p)
{
    struct slow_call *c = p;
    c->r = get(c->port, "/slow");
    return NULL;
}

static void test_http_stop_waits_for_in_flight(void **state)
{
    struct fixture *f = *state;
    struct slow_call c = { .port = f->port };
    pthread_t t;
    pthread_create(&t, NULL, slow_thread, &c);
    struct timespec ts = { 0, 150 * 1000000L };
    nanosleep(&ts, NULL);
    scry_http_server_stop(f->srv);
    pthread_join(t, NULL);
    assert_int_equal(c.r.rc, CURLE_OK);
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body.p, "slow done");
    reply_fini(&c.r);
    assert_true(observed(f, 1, "GET /slow", 200));
    /* Stopped: new connections are refused. */
    struct reply r = get(f->port, "/echo");
    assert_int_not_equal(r.rc, CURLE_OK);
    reply_fini(&r);
    scry_http_server_stop(f->srv); /* twice is fine */
}

/* Handlers run on workers, and a busy pool grows: slow requests in flight
 * hold up neither new connections nor one another. */
static void test_http_slow_handlers_block_no_one(void **state)
{
    struct fixture *f = *state;
    struct slow_call c[3];
    pthread_t t[3];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++) {
        c[i] = (struct slow_call){ .port = f->port };
        pthread_create(&t[i], NULL, slow_thread, &c[i]);
    }
    struct timespec ts = { 0, 100 * 1000000L };
    nanosleep(&ts, NULL);
    for (int i = 0; i < 5; i++) { /* answered while the three sleep */
        struct reply r = get(f->port, "/echo");
        assert_int_equal(r.status, 200);
        reply_fini(&r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double echo_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(echo_ms < 380);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double all_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(all_ms < 1000); /* the three slept side by side, not one after another */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].r.status, 200);
        assert_string_equal(c[i].r.body.p, "slow done");
        reply_fini(&c[i].r);
    }
}

static void test_http_survives_garbage(void **state)
{
    struct fixture *f = *state;
    /* A huge header: MHD refuses it, the server lives on. */
    size_t n = 200000;
    char *h = malloc(n + 16);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', n);
    h[7 + n] = 0;
    const char *hdrs[] = { h, NULL };
    struct reply r = request(f->port, "GET", "/echo", NULL, 0, false, hdrs, NULL);
    assert_true(r.status >= 400 || r.rc != CURLE_OK);
    reply_fini(&r);
    free(h);
    r = get(f->port, "/echo?%%%&&==&a=%ff");
    assert_int_equal(r.status, 400);
    reply_fini(&r);
    r = get(f->port, "/echo?a=%ff%fe");
    assert_int_equal(r.status, 200);
    assert_contains(r.body.p, "\\ufffd\\ufffd");
    reply_fini(&r);
    r = get(f->port, "/echo");
    assert_int_equal(r.status, 200);
    reply_fini(&r);
}

/* Reads until want bytes arrived (or EOF); returns the count. */
static size_t read_full(int fd, char *buf, size_t want)
{
    size_t got = 0;
    while (got < want) {
        ssize_t n = recv(fd, buf + got, want - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void test_http_upgrade_hands_over_the_socket(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f->port);
    /* bytes sent right behind the headers reach the session first */
    const char req[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
                       "Connection: Upgrade\r\n\r\nearly";
    assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    char buf[1024];
    size_t n = 0;
    char *end = NULL;
    while (!end && n < sizeof buf - 1) { /* the 101 head */
        ssize_t k = recv(fd, buf + n, 1, 0);
        assert_true(k == 1);
        n++;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    assert_non_null(strstr(buf, "HTTP/1.1 101"));
    assert_non_null(strcasestr(buf, "Upgrade: echo"));
    assert_int_equal(read_full(fd, buf, 5), 5);
    assert_memory_equal(buf, "early", 5);
    assert_int_equal(send(fd, "ping", 4, 0), 4);
    assert_int_equal(read_full(fd, buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    /* a second session, left open: stop tells it and waits for it */
    int fd2 = raw_connect(f->port);
    const char req2[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
                        "Connection: Upgrade\r\n\r\n";
    assert_int_equal(send(fd2, req2, sizeof req2 - 1, 0), (ssize_t)(sizeof req2 - 1));
    n = read_full(fd2, buf, 19);
    assert_int_equal(n, 19);
    assert_memory_equal(buf, "HTTP/1.1 101 Switch", 19);
    close(fd); /* the client ends the first session */
    scry_http_server_stop(f->srv);
    n = read_full(fd2, buf, sizeof buf - 1);
    buf[n] = 0;
    assert_non_null(strstr(buf, "bye"));
    close(fd2);
    assert_true(observed(f, 2, "GET /upgrade", 101));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_routes_with_path_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_not_found_and_method_not_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_params_merge_body_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_body_limit_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_body_limit_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_body_gzip_deflate_snappy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_response_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_port_in_use_at_create, setup, teardown),
        cmocka_unit_test(test_http_listen_address_forms),
        cmocka_unit_test_setup_teardown(test_http_stop_waits_for_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_upgrade_hands_over_the_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_slow_handlers_block_no_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_survives_garbage, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
