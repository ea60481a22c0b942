/* Shared by the logstore unit tests: the stream label sets they write. */
#ifndef SCRY_TEST_LS_FIXTURE_H
#define SCRY_TEST_LS_FIXTURE_H

#include "core/labels.h"

/* Stream i's labels in v (2 slots): app cycles over 3 values, level over
 * 2, so i in [0, 6) names 6 distinct streams. */
static inline struct scry_labels stream_labels(int i, struct scry_label *v)
{
    static const char *apps[] = { "nginx", "api", "auth" };
    v[0] = (struct scry_label){ "app", apps[i % 3] };
    v[1] = (struct scry_label){ "level", (i / 3) % 2 ? "warn" : "info" };
    return (struct scry_labels){ v, 2 };
}

#endif
