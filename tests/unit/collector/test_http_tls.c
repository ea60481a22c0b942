/* collector/http_tls.c: the URL / CONNECT_TO / Host rewrite for
 * tls_config.server_name (ports defaulted, IPv6 literals, plain http), and
 * the secret files of basic_auth / authorization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "collector/http_tls.h"
#include "core/config.h"
#include "core/err.h"

static void check(const char *url, const char *sn, const char *want_url, const char *want_ct,
                  const char *want_host)
{
    struct scry_tls_config tls = {.server_name = sn};
    struct col__tls_route r;
    assert_int_equal(col__tls_route_init(&r, url, &tls), 0);
    if (!want_url) {
        assert_null(r.url);
        assert_null(r.connect_to);
        assert_null(r.host_hdr);
        return;
    }
    assert_string_equal(r.url, want_url);
    assert_non_null(r.connect_to);
    assert_string_equal(r.connect_to->data, want_ct);
    assert_null(r.connect_to->next);
    assert_string_equal(r.host_hdr, want_host);
    struct curl_slist *h = col__tls_route_headers(&r, NULL);
    assert_string_equal(h->data, want_host);
    curl_slist_free_all(h);
    col__tls_route_free(&r);
    assert_null(r.url);
}

static void test_explicit_port(void **state)
{
    (void)state;
    check("https://127.0.0.1:9100/metrics?x=1", "scry.test", "https://scry.test:9100/metrics?x=1",
          "scry.test:9100:127.0.0.1:9100", "Host: 127.0.0.1:9100");
}

static void test_default_port(void **state)
{
    (void)state;
    check("https://10.0.0.1/metrics", "scry.test", "https://scry.test/metrics",
          "scry.test:443:10.0.0.1:443", "Host: 10.0.0.1");
}

static void test_ipv6_literal(void **state)
{
    (void)state;
    check("https://[::1]:8443/api/v1/write", "scry.test", "https://scry.test:8443/api/v1/write",
          "scry.test:8443:[::1]:8443", "Host: [::1]:8443");
}

static void test_no_rewrite(void **state)
{
    (void)state;
    check("http://127.0.0.1:9100/metrics", "scry.test", NULL, NULL, NULL); /* not TLS */
    check("https://127.0.0.1:9100/metrics", NULL, NULL, NULL, NULL);
    check("https://127.0.0.1:9100/metrics", "", NULL, NULL, NULL);
    struct col__tls_route r;
    assert_null(col__tls_route_headers(&(struct col__tls_route){0}, NULL));
    struct scry_tls_config tls = {.server_name = "scry.test"};
    assert_int_equal(col__tls_route_init(&r, "https://", &tls), SCRY_EINVAL);
    assert_null(r.url);
}

/* Trailing bytes in trim are removed, inner ones kept; a missing file is NULL. */
static void test_read_secret_trims_only_trailing(void **state)
{
    (void)state;
    char path[] = "/tmp/scry-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char body[] = "s3 cret \r\n\n";
    assert_int_equal(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    char *a = col__read_secret(path, "\r\n");
    char *b = col__read_secret(path, "\r\n ");
    unlink(path);
    assert_string_equal(a, "s3 cret ");
    assert_string_equal(b, "s3 cret");
    free(a);
    free(b);
    assert_null(col__read_secret(path, "\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_port),
        cmocka_unit_test(test_default_port),
        cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test(test_no_rewrite),
        cmocka_unit_test(test_read_secret_trims_only_trailing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
