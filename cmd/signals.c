/* signals.c — the signal loop `scry server` and `scry agent` share.
 *
 * Signals are handled synchronously: they are blocked before any thread
 * starts (threads inherit the mask), and the main thread takes them with
 * sigwait(), so reload and shutdown run as ordinary code, with no
 * async-signal-safety rules to respect. */
#include "cmd/signals.h"

#include <pthread.h>

void scry__signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int scry__signals_wait(const sigset_t *set, struct scry_log *log, const char *component,
                       void (*on_hup)(void *ud), void *ud)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            on_hup(ud);
            continue;
        }
        SCRY_LOG(log, SCRY_LOG_INFO, component, "shutting down", "signal",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return sig;
    }
}
