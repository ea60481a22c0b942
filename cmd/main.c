/* main.c — the scry binary: one executable, a subcommand per role
 * (ARCHITECTURE.md "One binary, a few roles"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "core/mem.h"
#include "scry_build.h"

static const char usage[] =
    "usage: scry <command> [options]\n"
    "\n"
    "commands:\n"
    "  server   collector + stores + query API in one process (the default role)\n"
    "  agent    scrape only, forward by remote_write (disk-backed queue) to a server or any backend\n"
    "  query    run a PromQL expression against a server and print the result\n"
    "  check    validate a config file (exit 0 when valid, 2 with file:line:col when not)\n"
    "  tsdb     inspect or dump a data directory offline\n"
    "  logs     dump the log entries of a data directory offline\n"
    "\n"
    "Run 'scry <command> --help' for the options of each command.\n"
    "  --version  print the version and exit\n";

void scry_cmd_print_version(FILE *f)
{
    fprintf(f, "scry %s (revision %s, built %s)\n", SCRY_VERSION, SCRY_REVISION,
            SCRY_BUILD_DATE);
}

int scry_cmd_usage_error(const char *use, const char *role, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "scry %s: ", role);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", use);
    return SCRY_EXIT_USAGE;
}

int scry_cmd_check_rest(const char *use, const char *role, int argc, char **argv,
                        const char *log_format, const char *log_level)
{
    if (optind < argc)
        return scry_cmd_usage_error(use, role, "unexpected argument \"%s\"", argv[optind]);
    if (scry_log_format_parse(log_format) < 0)
        return scry_cmd_usage_error(use, role, "--log-format must be logfmt or json, not \"%s\"",
                                    log_format);
    if (scry_log_level_parse(log_level) < 0)
        return scry_cmd_usage_error(use, role,
                                    "--log-level must be debug, info, warn or error, not \"%s\"",
                                    log_level);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SCRY_EXIT_USAGE;
    }
    const char *c = argv[1];
    if (!strcmp(c, "server")) {
        scry_mem_keep_freed();
        return scry_cmd_server(argc - 1, argv + 1);
    }
    if (!strcmp(c, "agent")) {
        scry_mem_keep_freed();
        return scry_cmd_agent(argc - 1, argv + 1);
    }
    if (!strcmp(c, "query"))
        return scry_cmd_query(argc - 1, argv + 1);
    if (!strcmp(c, "check"))
        return scry_cmd_check(argc - 1, argv + 1);
    if (!strcmp(c, "tsdb"))
        return scry_cmd_tsdb(argc - 1, argv + 1);
    if (!strcmp(c, "logs"))
        return scry_cmd_logs(argc - 1, argv + 1);
    if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        scry_cmd_print_version(stdout);
        return SCRY_EXIT_OK;
    }
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(usage, stdout);
        return SCRY_EXIT_OK;
    }
    fprintf(stderr, "scry: unknown command \"%s\"\n%s", c, usage);
    return SCRY_EXIT_USAGE;
}
