/* tsdb.c — `scry tsdb inspect|dump DATA_DIR`: offline views of a data
 * directory, as promtool tsdb analyze/dump give for Prometheus. Both take
 * the data directory's lock, so they refuse to run beside a live server
 * (which could be writing the very files they read). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/timeparse.h"
#include "tsdb/block.h"
#include "tsdb/tsdb.h"

static const char usage[] =
    "usage: scry tsdb inspect DATA_DIR\n"
    "       scry tsdb dump DATA_DIR [--min-time T] [--max-time T]\n"
    "\n"
    "inspect  blocks (range, series, samples, bytes per sample), the head in the WAL,\n"
    "         and the label names and pairs with the most series\n"
    "dump     every sample as `{labels} value timestamp_ms`, from the blocks and a\n"
    "         replay of the WAL (what a restarted server would serve)\n"
    "\n"
    "Both refuse to run while a server uses DATA_DIR.\n";

static int lock_or_fail(const char *dir)
{
    char msg[512];
    int fd = scry__datadir_lock(dir, msg, sizeof msg);
    if (fd < 0)
        fprintf(stderr, "scry tsdb: %s\n", msg);
    return fd;
}

static int inspect(const char *dir)
{
    int fd = lock_or_fail(dir);
    if (fd < 0)
        return SCRY_EXIT_FAIL;
    struct scry_err err = { 0 };
    int rc = tsdb_inspect(dir, stdout, &err);
    close(fd);
    if (rc) {
        fprintf(stderr, "scry tsdb inspect: %s\n", err.msg);
        return SCRY_EXIT_FAIL;
    }
    return SCRY_EXIT_OK;
}

static int dump(int argc, char **argv)
{
    static const struct option opts[] = {
        { "min-time", required_argument, NULL, 'a' },
        { "max-time", required_argument, NULL, 'b' },
        { 0 },
    };
    int64_t mint = INT64_MIN, maxt = INT64_MAX;
    struct scry_err err = { 0 };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        int64_t *dst = c == 'a' ? &mint : c == 'b' ? &maxt : NULL;
        if (!dst)
            return scry_cmd_usage_error(usage, "tsdb", "unknown option %s", argv[optind - 1]);
        if (scry_time_parse(optarg, strlen(optarg), dst, &err) != 0)
            return scry_cmd_usage_error(usage, "tsdb", "%s: %s", argv[optind - 2], err.msg);
    }
    if (optind != argc - 1)
        return scry_cmd_usage_error(usage, "tsdb", "dump needs exactly one DATA_DIR");
    const char *dir = argv[optind];
    int fd = lock_or_fail(dir);
    if (fd < 0)
        return SCRY_EXIT_FAIL;
    int rc = tsdb_dump(dir, NULL, 0, mint, maxt, stdout, &err);
    close(fd);
    if (rc) {
        fprintf(stderr, "scry tsdb dump: %s\n", err.msg);
        return SCRY_EXIT_FAIL;
    }
    return SCRY_EXIT_OK;
}

int scry_cmd_tsdb(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return SCRY_EXIT_OK;
    }
    if (argc < 2)
        return scry_cmd_usage_error(usage, "tsdb", "inspect or dump?");
    if (!strcmp(argv[1], "inspect")) {
        if (argc != 3)
            return scry_cmd_usage_error(usage, "tsdb", "inspect needs exactly one DATA_DIR");
        return inspect(argv[2]);
    }
    if (!strcmp(argv[1], "dump"))
        return dump(argc - 1, argv + 1);
    return scry_cmd_usage_error(usage, "tsdb", "unknown subcommand \"%s\"", argv[1]);
}
