/* rwqbench.c — the agent's forwarding cost: samples per CPU-second of the
 * sending process, from append through commit (encode + WAL write), batch
 * building, snappy and HTTP to a receiver that answers 204.
 *
 * The receiver runs in a forked child (a core/http route that answers 204
 * without decoding), so getrusage(RUSAGE_SELF) of the parent counts the
 * agent's side only: the appending thread and the sender shards.
 *
 *   ./build/bench/rwqbench [-s series] [-n scrapes] [-S shards] [-c capacity]
 *
 * Defaults: 1000 series of 5 labels (node_exporter-like names), 500
 * commits of one sample per series (500 000 samples), 4 shards, capacity
 * 10000. Commits come as fast as the loop runs, far faster than the
 * senders drain them, so with the default capacity most of the run is a
 * backlog read back from the WAL; -c 1000000 keeps everything in memory
 * (the steady state of an agent whose receiver keeps up). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/rw_queue.h"
#include "core/config.h"
#include "core/http.h"
#include "core/timeparse.h"

static void ok204(struct scry_http_req *req, struct scry_http_resp *resp, void *ud)
{
    resp->status = 204;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static pid_t start_receiver(int *port)
{
    int fd[2];
    if (pipe(fd) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        struct scry_http_server *srv = NULL;
        struct scry_err err = { 0 };
        struct scry_http_opts o = { .listen = "127.0.0.1:0" };
        if (scry_http_server_create(&srv, &o, &err) != 0)
            _exit(1);
        scry_http_server_route(srv, "POST", "/w", ok204, NULL, 0);
        if (scry_http_server_start(srv, &err) != 0)
            _exit(1);
        int p = scry_http_server_port(srv);
        if (write(fd[1], &p, sizeof p) != sizeof p)
            _exit(1);
        pause();
        _exit(0);
    }
    if (read(fd[0], port, sizeof *port) != sizeof *port)
        exit(1);
    close(fd[0]);
    close(fd[1]);
    return pid;
}

int main(int argc, char **argv)
{
    int n_series = 1000, n_scrapes = 500, shards = 4, capacity = 10000, c;
    while ((c = getopt(argc, argv, "s:n:S:c:")) != -1) {
        if (c == 'c') capacity = atoi(optarg);
        else if (c == 's') n_series = atoi(optarg);
        else if (c == 'n') n_scrapes = atoi(optarg);
        else if (c == 'S') shards = atoi(optarg);
        else return 2;
    }
    int port = 0;
    pid_t child = start_receiver(&port);
    char dir[] = "/tmp/rwqbench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char y[512];
    snprintf(y, sizeof y,
             "remote_write:\n  - url: http://127.0.0.1:%d/w\n"
             "    queue_config: {max_samples_per_send: 2000, batch_send_deadline: 20ms, "
             "capacity: %d}\n",
             port, capacity);
    struct scry_config *cfg = NULL;
    struct scry_err err = { 0 };
    if (scry_config_load_string("bench", y, strlen(y), &cfg, &err) != 0)
        return 1;
    struct col_rwq *q = NULL;
    struct col_rwq_opts o = { .cfg = &cfg->remote_write[0], .dir = dir, .n_shards = (uint32_t)shards };
    if (col_rwq_open(&q, &o, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct scry_label *lv = calloc((size_t)n_series * 5, sizeof *lv);
    char (*vals)[32] = calloc((size_t)n_series, 32);
    for (int i = 0; i < n_series; i++) {
        snprintf(vals[i], 32, "%d", i);
        struct scry_label *l = &lv[i * 5];
        l[0] = (struct scry_label){ "__name__", i % 3 ? "node_cpu_seconds_total"
                                                      : "node_network_receive_bytes_total" };
        l[1] = (struct scry_label){ "cpu", vals[i] };
        l[2] = (struct scry_label){ "instance", "10.0.0.17:9100" };
        l[3] = (struct scry_label){ "job", "node" };
        l[4] = (struct scry_label){ "mode", "user" };
    }
    double t0 = cpu_s(), w0 = scry_mono_s(), commit_cpu = 0;
    for (int k = 0; k < n_scrapes; k++) {
        double c0 = cpu_s();
        struct scry_appender *app = NULL;
        scry_appender_begin(col_rwq_appendable(q), NULL, &app, &err);
        for (int i = 0; i < n_series; i++) {
            struct scry_labels ls = { &lv[i * 5], 5 };
            uint64_t ref = 0;
            scry_append_sample(app, &ref, &ls, 1700000000000 + k * 15000, i * 1.5 + k, &err);
        }
        if (scry_appender_commit(app, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        commit_cpu += cpu_s() - c0; /* includes shard CPU that ran meanwhile: an upper bound */
    }
    int frc = col_rwq_flush(q, 120000);
    double cpu = cpu_s() - t0, wall = scry_mono_s() - w0;
    struct col_rwq_stats st;
    col_rwq_stats(q, &st);
    col_rwq_close(q, NULL);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    double n = (double)n_series * n_scrapes;
    printf("samples %.0f sent %llu requests %llu shards %d capacity %d disk loads %llu "
           "flush %s\n", n, (unsigned long long)st.samples_sent,
           (unsigned long long)st.requests, shards, capacity,
           (unsigned long long)st.disk_loads, frc == 0 ? "ok" : "timeout");
    printf("cpu %.3f s  wall %.3f s  %.2f M samples/CPU-s  %.0f ns CPU/sample  "
           "(append+commit <= %.0f ns/sample)\n",
           cpu, wall, n / cpu / 1e6, cpu / n * 1e9, commit_cpu / n * 1e9);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    scry_config_destroy(cfg);
    free(lv);
    free(vals);
    return st.samples_sent == (uint64_t)n ? 0 : 1;
}
