/* fuzz_ws.c — the WebSocket reader (core/ws.c), the trust boundary of
 * Loki's live tail: client bytes in any split. The first byte picks the
 * message size limit and the chunk size, so the limit paths and frames
 * split across reads are reached as often as whole frames. Every message
 * must lie within what was fed, control frames must be short, and after an
 * error nothing more is read. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = { 0, 1, 125, 4096 };
    size_t max = size ? limits[data[0] & 3] : 0;
    size_t chunk = size ? (size_t)(data[0] >> 2) + 1 : 1;
    const uint8_t *in = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;

    struct scry_ws_reader r;
    scry_ws_reader_init(&r, max);
    size_t fed = 0, got = 0;
    for (size_t o = 0; o < len; o += chunk) {
        size_t n = o + chunk < len ? chunk : len - o;
        scry_ws_reader_feed(&r, in + o, n);
        fed += n;
        struct scry_ws_msg m;
        struct scry_err err;
        int rc;
        while ((rc = scry_ws_reader_next(&r, &m, &err)) == 1) {
            assert(m.len <= fed);
            assert(m.opcode != SCRY_WS_CONT);
            if (m.opcode >= SCRY_WS_CLOSE)
                assert(m.len <= 125);
            if (m.len) {
                volatile uint8_t sink = m.p[0] ^ m.p[m.len - 1]; /* readable */
                (void)sink;
            }
            got += m.len;
        }
        if (rc < 0) {
            assert(rc == SCRY_EINVAL || rc == SCRY_ELIMIT);
            break;
        }
    }
    assert(got <= fed);
    scry_ws_reader_fini(&r);
    return 0;
}
