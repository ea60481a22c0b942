/* check.c — `scry check config FILE...`: load each file exactly as the
 * server would and report the first error with file:line:col. Exit 0 when
 * every file is valid, 2 otherwise (the same code as a usage error, as
 * promtool check config does for bad files). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/config.h"

static const char usage[] =
    "usage: scry check config FILE...\n"
    "\n"
    "Validates scry config files. Prints FILE: ok, or FILE:LINE:COL: key.path: what is\n"
    "wrong, for each file. Exit status 0 when all are valid, 2 otherwise.\n";

static int check_config(const char *path)
{
    struct scry_err err = { 0 };
    struct scry_config *cfg = NULL;
    if (scry_config_load_file(path, &cfg, &err) != 0) {
        char line[SCRY_ERR_MSG_MAX + 256];
        scry_err_format(&err, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        return SCRY_EXIT_USAGE;
    }
    printf("%s: ok (%zu scrape configs, %zu log sources)\n", path, cfg->n_scrape_configs,
           cfg->n_logs);
    scry_config_destroy(cfg);
    return SCRY_EXIT_OK;
}

int scry_cmd_check(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return SCRY_EXIT_OK;
    }
    if (argc < 2)
        return scry_cmd_usage_error(usage, "check", "what to check? (config)");
    if (strcmp(argv[1], "config"))
        return scry_cmd_usage_error(usage, "check", "unknown check \"%s\"", argv[1]);
    if (argc < 3)
        return scry_cmd_usage_error(usage, "check", "config needs at least one FILE");
    int rc = SCRY_EXIT_OK;
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] == '-')
            return scry_cmd_usage_error(usage, "check", "unknown option %s", argv[i]);
        if (check_config(argv[i]) != SCRY_EXIT_OK)
            rc = SCRY_EXIT_USAGE;
    }
    return rc;
}
