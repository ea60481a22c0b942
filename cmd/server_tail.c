/* server_tail.c — file tailing (the `logs:` section) inside `scry server`.
 *
 * The tail manager starts once the log store is open and ready (it appends
 * to the server's log_ingest appendable, like the push receivers), gets the
 * config again on every reload, and stops before the log store closes, so
 * its last round is committed and checkpointed. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "cmd/server.h"
#include "collector/tail.h"

int scry__server_tail_start(struct scry_server *s, struct scry_err *err)
{
    /* Test hook: widen the window between commit and checkpoint so the
     * crash tests' kill -9 lands in it (tests/integration/test_tail.py). */
    const char *delay = getenv("SCRY_TAIL_CHECKPOINT_DELAY_MS");
    char path[4096];
    snprintf(path, sizeof path, "%s/catalog.db", s->data_dir);
    struct col_tail_opts o = {
        .appendable = &s->log_ingest,
        .catalog_path = path,
        .log = s->log,
        .metrics = s->metrics,
        .checkpoint_delay_ms = delay ? atoll(delay) : 0,
    };
    if (col_tail_manager_create(&o, &s->tail, err) != 0)
        return -1;
    return scry__server_tail_apply(s, err);
}

/* Called with reload_mu held, after the new config is in s->cfg. */
int scry__server_tail_apply(struct scry_server *s, struct scry_err *err)
{
    if (!s->tail)
        return 0;
    return col_tail_manager_apply_config(s->tail, s->cfg, err);
}

void scry__server_tail_stop(struct scry_server *s)
{
    col_tail_manager_destroy(s->tail);
    s->tail = NULL;
}
