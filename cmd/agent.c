/* agent.c — `scry agent`: scrape and tail without local stores, forwarding
 * by remote_write / OTLP. The flags and config are the server's; the
 * scraping and forwarding themselves arrive with the collector. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/config.h"

static const char usage[] =
    "usage: scry agent --config FILE [options]\n"
    "\n"
    "Scrapes targets and tails log files like the server, keeps no local store, and\n"
    "forwards to a scry server or any remote_write / OTLP backend.\n"
    "\n"
    "  --config FILE        YAML config (required)\n"
    "  --data DIR           queue directory (default ./data-agent)\n"
    "  --log-format logfmt|json   (default logfmt)\n"
    "  --log-level debug|info|warn|error   (default info)\n"
    "  -h, --help           show this help\n";

int scry_cmd_agent(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "log-format", required_argument, NULL, 'f' },
        { "log-level", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *config = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'd': case 'f': case 'v': break;
        case 'h': fputs(usage, stdout); return SCRY_EXIT_OK;
        case ':':
            return scry_cmd_usage_error(usage, "agent", "option %s needs a value",
                                        argv[optind - 1]);
        default:
            return scry_cmd_usage_error(usage, "agent", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return scry_cmd_usage_error(usage, "agent", "unexpected argument \"%s\"", argv[optind]);
    if (!config)
        return scry_cmd_usage_error(usage, "agent", "--config is required");
    struct scry_err err = { 0 };
    struct scry_config *cfg = NULL;
    if (scry_config_load_file(config, &cfg, &err) != 0) {
        char line[SCRY_ERR_MSG_MAX + 256];
        scry_err_format(&err, line, sizeof line);
        fprintf(stderr, "scry agent: %s\n", line);
        return SCRY_EXIT_USAGE;
    }
    scry_config_destroy(cfg);
    fprintf(stderr, "scry agent: the config is valid, but scraping and forwarding are not "
                    "built yet (they come with the collector)\n");
    return SCRY_EXIT_FAIL;
}
