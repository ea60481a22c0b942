/* logs.c — `scry logs dump DATA_DIR`: every log entry of a data directory,
 * offline, as `<t_ns> <labels> <line>` (one per line; a "\n" inside a
 * multiline record is written as "\\n", a backslash as "\\\\"), plus the
 * structured metadata as ` | {k="v"}` when there is some. A debug view
 * until the LogQL API reads the same; the tail tests count lines with it.
 * Takes the data directory's lock, so it refuses to run beside a server. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "logstore/logstore.h"

static const char usage[] =
    "usage: scry logs dump DATA_DIR\n"
    "\n"
    "dump  every log entry as `<t_ns> {labels} line`, streams in label order,\n"
    "      entries in time order, from the segments and a replay of the WAL\n"
    "\n"
    "Refuses to run while a server uses DATA_DIR.\n";

static void put_escaped(FILE *out, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n')
            fputs("\\n", out);
        else if (p[i] == '\\')
            fputs("\\\\", out);
        else
            fputc(p[i], out);
    }
}

static int dump_streams(struct scry_querier *q, FILE *out, struct scry_err *err)
{
    struct scry_select_hints h = { .mint = INT64_MIN, .maxt = INT64_MAX };
    struct scry_stream_set *ss = NULL;
    int rc = q->ops->select_streams(q, NULL, 0, &h, &ss, err);
    if (rc)
        return rc;
    struct scry_buf lb = { 0 };
    while (ss->ops->next(ss)) {
        scry_buf_reset(&lb);
        scry_labels_format(ss->ops->labels(ss), &lb);
        struct scry_entry_iter *it = ss->ops->entries(ss);
        while (it->ops->next(it)) {
            struct scry_log_entry e;
            it->ops->at(it, &e);
            fprintf(out, "%" PRId64 " %s ", e.t_ns, lb.p ? lb.p : "{}");
            put_escaped(out, e.line.p, e.line.len);
            if (e.metadata.n) {
                struct scry_buf mb = { 0 };
                scry_labels_format(&e.metadata, &mb);
                fprintf(out, " | %s", mb.p);
                scry_buf_fini(&mb);
            }
            fputc('\n', out);
        }
        if (rc == 0)
            rc = it->ops->err(it, err);
    }
    if (rc == 0)
        rc = ss->ops->err(ss, err);
    ss->ops->close(ss);
    scry_buf_fini(&lb);
    return rc;
}

static int dump(const char *dir)
{
    char msg[512];
    int fd = scry__datadir_lock(dir, msg, sizeof msg);
    if (fd < 0) {
        fprintf(stderr, "scry logs: %s\n", msg);
        return SCRY_EXIT_FAIL;
    }
    struct scry_err err = { 0 };
    struct ls_store *st = NULL;
    struct ls_opts o = { .data_dir = dir };
    struct scry_querier *q = NULL;
    int rc = ls_open(&st, &o, &err);
    if (rc == 0) {
        struct scry_queryable *qa = ls_queryable(st);
        rc = qa->querier(qa, NULL, INT64_MIN, INT64_MAX, &q, &err);
    }
    if (rc == 0) {
        rc = dump_streams(q, stdout, &err);
        q->ops->close(q);
    }
    ls_close(st);
    close(fd);
    if (rc) {
        fprintf(stderr, "scry logs dump: %s\n", err.msg);
        return SCRY_EXIT_FAIL;
    }
    return SCRY_EXIT_OK;
}

int scry_cmd_logs(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return SCRY_EXIT_OK;
    }
    if (argc < 2)
        return scry_cmd_usage_error(usage, "logs", "dump?");
    if (!strcmp(argv[1], "dump")) {
        if (argc != 3)
            return scry_cmd_usage_error(usage, "logs", "dump needs exactly one DATA_DIR");
        return dump(argv[2]);
    }
    return scry_cmd_usage_error(usage, "logs", "unknown subcommand \"%s\"", argv[1]);
}
