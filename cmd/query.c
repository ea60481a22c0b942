/* query.c — `scry query EXPR`: send a PromQL expression to a server's
 * /api/v1/query or /api/v1/query_range (as a POST form, like Grafana) and
 * print the answer as text: a table for a vector, series with their points
 * for a matrix (query/api_prom_client.h renders it). A failed query exits
 * 1 with the server's "<errorType>: <error>". */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "query/api_prom_client.h"

static const char usage[] =
    "usage: scry query EXPR [--server URL] [--at T | --start T --end T --step D]\n"
    "\n"
    "  --server URL   scry (or Prometheus) base URL (default http://127.0.0.1:9090)\n"
    "  --at T         instant query at T (RFC 3339 or unix seconds; default now)\n"
    "  --start T --end T --step D\n"
    "                 range query; D is a duration (15s, 1m) or seconds\n"
    "Exit status 1 when the query fails, with the server's message.\n";

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    scry_buf_put(ud, p, size * n);
    return size * n;
}

static void add_param(CURL *c, struct scry_buf *form, const char *k, const char *v)
{
    if (!v)
        return;
    char *e = curl_easy_escape(c, v, 0);
    scry_buf_printf(form, "%s%s=%s", form->len ? "&" : "", k, e);
    curl_free(e);
}

/* The rendered answer on stdout, warnings on stderr. An error envelope
 * (any status) is reported as the server words it; a body that is not an
 * envelope is reported with the HTTP status. */
static int print_answer(long status, const struct scry_buf *body)
{
    struct scry_buf out = { 0 }, notes = { 0 };
    struct scry_err err = { 0 };
    int rc = pql_api_client_render(body->p, body->len, &out, &notes, &err);
    if (notes.len)
        fputs(notes.p, stderr);
    if (rc == 0 && status == 200)
        fputs(out.p ? out.p : "", stdout);
    else if (rc == SCRY_EINVAL)
        fprintf(stderr, "scry query: HTTP %ld: %s\n", status, err.msg);
    else if (status != 200)
        fprintf(stderr, "scry query: HTTP %ld: %s\n", status, body->p ? body->p : "");
    else
        fprintf(stderr, "scry query: %s\n", err.msg);
    scry_buf_fini(&out);
    scry_buf_fini(&notes);
    return rc == 0 && status == 200 ? SCRY_EXIT_OK : SCRY_EXIT_FAIL;
}

static int send_query(const char *server, const char *path, const char *expr, const char *at,
                      const char *start, const char *end, const char *step)
{
    int rc = SCRY_EXIT_FAIL;
    struct scry_buf url = { 0 }, form = { 0 }, body = { 0 };
    CURL *c = curl_easy_init();
    if (!c)
        return SCRY_EXIT_FAIL;
    scry_buf_printf(&url, "%s%s", server, path);
    add_param(c, &form, "query", expr);
    add_param(c, &form, "time", at);
    add_param(c, &form, "start", start);
    add_param(c, &form, "end", end);
    add_param(c, &form, "step", step);
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.p);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        fprintf(stderr, "scry query: %s: %s\n", url.p, curl_easy_strerror(cc));
    else
        rc = print_answer(status, &body);
    curl_easy_cleanup(c);
    scry_buf_fini(&url);
    scry_buf_fini(&form);
    scry_buf_fini(&body);
    return rc;
}

int scry_cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "at", required_argument, NULL, 'a' },
        { "start", required_argument, NULL, 'b' },
        { "end", required_argument, NULL, 'e' },
        { "step", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *server = "http://127.0.0.1:9090", *at = NULL, *start = NULL, *end = NULL,
               *step = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'a': at = optarg; break;
        case 'b': start = optarg; break;
        case 'e': end = optarg; break;
        case 'p': step = optarg; break;
        case 'h': fputs(usage, stdout); return SCRY_EXIT_OK;
        case ':':
            return scry_cmd_usage_error(usage, "query", "option %s needs a value",
                                        argv[optind - 1]);
        default:
            return scry_cmd_usage_error(usage, "query", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return scry_cmd_usage_error(usage, "query", "expected exactly one EXPR");
    bool range = start || end || step;
    if (range && !(start && end && step))
        return scry_cmd_usage_error(usage, "query", "a range query needs --start, --end and --step");
    if (range && at)
        return scry_cmd_usage_error(usage, "query", "--at and --start/--end/--step exclude each other");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = send_query(server, range ? "/api/v1/query_range" : "/api/v1/query", argv[optind], at,
                        start, end, step);
    curl_global_cleanup();
    return rc;
}
