/* proc.c — the process collector: process_* metrics read from /proc when
 * /metrics is rendered, with the names, help texts and types of
 * client_golang's process collector, so existing dashboards work unchanged.
 *
 * Everything is read at render time (a scrape every 15 s costs a few
 * syscalls) rather than sampled by a thread, so there is no state to keep:
 * the collector's user data is unused. A file that cannot be read (not
 * Linux, a locked-down /proc) drops only the metrics it would have given. */
#include "core/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct proc_stat {
    double utime_ticks, stime_ticks, start_ticks;
    double vsize_bytes, rss_pages;
};

/* /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and
 * parentheses, so fields are counted from the last ')'. After it, field 3
 * (state) is token 0; utime (14), stime (15), starttime (22), vsize (23) and
 * rss (24) follow, as numbered in proc(5). */
static int read_stat(struct proc_stat *st)
{
    char buf[2048];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    int got = 0;
    for (int tok = 0; tok <= 21; tok++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        char *end;
        double v = strtod(p, &end);
        switch (tok + 3) {
        case 14: st->utime_ticks = v; got++; break;
        case 15: st->stime_ticks = v; got++; break;
        case 22: st->start_ticks = v; got++; break;
        case 23: st->vsize_bytes = v; got++; break;
        case 24: st->rss_pages = v; got++; break;
        default: break;
        }
        p = strchr(p, ' ');
        if (!p)
            p = end + strlen(end);
    }
    return got == 5 ? 0 : -1;
}

/* Boot time in seconds since the epoch, from "btime" in /proc/stat. */
static int read_btime(double *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            *out = strtod(line + 6, NULL);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Counts /proc/self/fd, including the descriptor opendir holds while
 * counting, as client_golang does. */
static int count_fds(double *out)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    *out = (double)n;
    return 0;
}

static void put_one(struct scry_buf *out, const char *name, const char *help,
                    enum scry_metric_type type, double v)
{
    scry_metrics_render_header(out, name, help, type);
    scry_buf_puts(out, name);
    scry_buf_putc(out, ' ');
    scry_buf_put_double(out, v);
    scry_buf_putc(out, '\n');
}

/* Families in name order, like the rest of the exposition. */
static void collect(struct scry_buf *out, void *ud)
{
    (void)ud;
    struct proc_stat st;
    bool have_stat = read_stat(&st) == 0;
    double tck = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
    double btime = 0, fds = 0;
    struct rlimit rl;

    if (have_stat && tck > 0)
        put_one(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                SCRY_METRIC_COUNTER, (st.utime_ticks + st.stime_ticks) / tck);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        put_one(out, "process_max_fds", "Maximum number of open file descriptors.",
                SCRY_METRIC_GAUGE, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
    if (count_fds(&fds) == 0)
        put_one(out, "process_open_fds", "Number of open file descriptors.", SCRY_METRIC_GAUGE,
                fds);
    if (have_stat && page > 0)
        put_one(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                SCRY_METRIC_GAUGE, st.rss_pages * page);
    if (have_stat && tck > 0 && read_btime(&btime) == 0)
        put_one(out, "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.", SCRY_METRIC_GAUGE,
                btime + st.start_ticks / tck);
    if (have_stat)
        put_one(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                SCRY_METRIC_GAUGE, st.vsize_bytes);
}

void scry_metrics_add_process_collector(struct scry_metrics *m)
{
    scry_metrics_add_collector(m, collect, NULL);
}
