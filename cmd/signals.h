/* signals.h — blocking and waiting for SIGINT/SIGTERM/SIGHUP, shared by
 * `scry server` and `scry agent` (cmd/signals.c). */
#ifndef SCRY_CMD_SIGNALS_H
#define SCRY_CMD_SIGNALS_H

#include <signal.h>

#include "core/log.h"

/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread, into *set, and
 * ignores SIGPIPE. Call before starting any thread. */
void scry__signals_block(sigset_t *set);
/* Waits for the signals in set: calls on_hup(ud) on each SIGHUP; on SIGTERM
 * or SIGINT logs "shutting down" under component and returns the signal. */
int scry__signals_wait(const sigset_t *set, struct scry_log *log, const char *component,
                       void (*on_hup)(void *ud), void *ud);

#endif
