/* Tests core/ws.c: the RFC 6455 handshake example, server frame headers
 * at the 7/16/64-bit length edges, and the reader on client frames:
 * masking, every length form, byte-by-byte arrival, fragmentation with
 * interleaved control frames, and each protocol error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/ws.h"

static void test_ws_accept_key_rfc6455_example(void **state)
{
    (void)state;
    char out[SCRY_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 §1.3 */
    scry_ws_accept_key(key, strlen(key), out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_ws_frame_header_lengths(void **state)
{
    (void)state;
    uint8_t h[SCRY_WS_MAX_HEADER];
    assert_int_equal(scry_ws_frame_header(h, SCRY_WS_TEXT, 125), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 125);
    assert_int_equal(scry_ws_frame_header(h, SCRY_WS_TEXT, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(scry_ws_frame_header(h, SCRY_WS_PONG, 65535), 4);
    assert_int_equal(h[0], 0x8A);
    assert_int_equal(scry_ws_frame_header(h, SCRY_WS_BINARY, 65536), 10);
    assert_int_equal(h[1], 127);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n = n << 8 | h[2 + i];
    assert_int_equal(n, 65536);
}

/* A masked client frame into out; returns its size. len_form forces the
 * 16- or 64-bit length encodings for small payloads (legal, if odd). */
static size_t client_frame(uint8_t *out, int fin, int op, const uint8_t *p, size_t len,
                           int len_form)
{
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t o = 0;
    out[o++] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (len_form == 64 || len > 65535) {
        out[o++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[o++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    } else if (len_form == 16 || len > 125) {
        out[o++] = 0x80 | 126;
        out[o++] = (uint8_t)(len >> 8);
        out[o++] = (uint8_t)len;
    } else {
        out[o++] = (uint8_t)(0x80 | len);
    }
    memcpy(out + o, mask, 4);
    o += 4;
    for (size_t i = 0; i < len; i++)
        out[o + i] = p[i] ^ mask[i & 3];
    return o + len;
}

static void test_ws_reader_lengths_and_partial_arrival(void **state)
{
    (void)state;
    static uint8_t payload[70000], buf[70100];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31);
    const size_t lens[] = { 0, 1, 125, 126, 65535, 65536, 70000 };
    const int forms[] = { 7, 16, 64 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (size_t fi = 0; fi < 3; fi++) {
            size_t n = client_frame(buf, 1, SCRY_WS_BINARY, payload, lens[li], forms[fi]);
            struct scry_ws_reader r;
            scry_ws_reader_init(&r, 1 << 20);
            struct scry_ws_msg m;
            struct scry_err err;
            /* byte by byte for short frames: no message until the last byte */
            size_t step = n < 300 ? 1 : 4096;
            int rc = 0;
            for (size_t o = 0; o < n; o += step) {
                assert_int_equal(rc, 0);
                scry_ws_reader_feed(&r, buf + o, o + step < n ? step : n - o);
                rc = scry_ws_reader_next(&r, &m, &err);
            }
            assert_int_equal(rc, 1);
            assert_int_equal(m.opcode, SCRY_WS_BINARY);
            assert_int_equal(m.len, lens[li]);
            if (lens[li])
                assert_memory_equal(m.p, payload, lens[li]);
            assert_int_equal(scry_ws_reader_next(&r, &m, &err), 0);
            scry_ws_reader_fini(&r);
        }
    }
}

static void test_ws_reader_fragmented_message_with_control_frames(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = 0;
    n += client_frame(buf + n, 0, SCRY_WS_TEXT, (const uint8_t *)"Hel", 3, 7);
    n += client_frame(buf + n, 1, SCRY_WS_PING, (const uint8_t *)"pi", 2, 7);
    n += client_frame(buf + n, 0, SCRY_WS_CONT, (const uint8_t *)"lo, ", 4, 16);
    n += client_frame(buf + n, 1, SCRY_WS_CONT, (const uint8_t *)"world", 5, 64);
    n += client_frame(buf + n, 1, SCRY_WS_CLOSE, (const uint8_t *)"\x03\xe8", 2, 7);
    struct scry_ws_reader r;
    scry_ws_reader_init(&r, 0);
    scry_ws_reader_feed(&r, buf, n);
    struct scry_ws_msg m;
    struct scry_err err;
    assert_int_equal(scry_ws_reader_next(&r, &m, &err), 1);
    assert_int_equal(m.opcode, SCRY_WS_PING);
    assert_memory_equal(m.p, "pi", 2);
    assert_int_equal(scry_ws_reader_next(&r, &m, &err), 1);
    assert_int_equal(m.opcode, SCRY_WS_TEXT);
    assert_int_equal(m.len, 12);
    assert_memory_equal(m.p, "Hello, world", 12);
    assert_int_equal(scry_ws_reader_next(&r, &m, &err), 1);
    assert_int_equal(m.opcode, SCRY_WS_CLOSE);
    assert_int_equal(m.p[0] << 8 | m.p[1], 1000);
    assert_int_equal(scry_ws_reader_next(&r, &m, &err), 0);
    scry_ws_reader_fini(&r);
}

/* Feeds one crafted input; returns the reader's first non-message result. */
static int first_error(const uint8_t *p, size_t n, size_t max)
{
    struct scry_ws_reader r;
    scry_ws_reader_init(&r, max);
    scry_ws_reader_feed(&r, p, n);
    struct scry_ws_msg m;
    struct scry_err err = { 0 };
    int rc;
    while ((rc = scry_ws_reader_next(&r, &m, &err)) == 1)
        ;
    if (rc < 0)
        assert_true(strstr(err.msg, "websocket") != NULL);
    scry_ws_reader_fini(&r);
    return rc;
}

static void test_ws_reader_protocol_errors(void **state)
{
    (void)state;
    uint8_t b[300];
    const uint8_t *x = (const uint8_t *)"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    /* unmasked */
    const uint8_t unmasked[] = { 0x81, 0x01, 'a' };
    assert_int_equal(first_error(unmasked, sizeof unmasked, 0), SCRY_EINVAL);
    /* reserved bit */
    size_t n = client_frame(b, 1, SCRY_WS_TEXT, x, 1, 7);
    b[0] |= 0x40;
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    /* unknown opcodes 3 and 0xB */
    n = client_frame(b, 1, 0x3, x, 1, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    n = client_frame(b, 1, 0xB, x, 1, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    /* control frame: fragmented, or over 125 bytes */
    n = client_frame(b, 0, SCRY_WS_PING, x, 1, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    n = client_frame(b, 1, SCRY_WS_PING, x, 126, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    /* continuation with nothing to continue; a new message inside one */
    n = client_frame(b, 1, SCRY_WS_CONT, x, 1, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    n = client_frame(b, 0, SCRY_WS_TEXT, x, 1, 7);
    n += client_frame(b + n, 1, SCRY_WS_TEXT, x, 1, 7);
    assert_int_equal(first_error(b, n, 0), SCRY_EINVAL);
    /* 64-bit length with the top bit set */
    const uint8_t huge[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
    assert_int_equal(first_error(huge, sizeof huge, 0), SCRY_EINVAL);
    /* over the size limit: one frame, and a message assembled from two */
    n = client_frame(b, 1, SCRY_WS_TEXT, x, 100, 7);
    assert_int_equal(first_error(b, n, 99), SCRY_ELIMIT);
    n = client_frame(b, 0, SCRY_WS_TEXT, x, 60, 7);
    n += client_frame(b + n, 1, SCRY_WS_CONT, x, 60, 7);
    assert_int_equal(first_error(b, n, 100), SCRY_ELIMIT);
    /* a frame's length announced but not yet there: wait, no error */
    n = client_frame(b, 1, SCRY_WS_TEXT, x, 100, 16);
    assert_int_equal(first_error(b, n - 1, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_accept_key_rfc6455_example),
        cmocka_unit_test(test_ws_frame_header_lengths),
        cmocka_unit_test(test_ws_reader_lengths_and_partial_arrival),
        cmocka_unit_test(test_ws_reader_fragmented_message_with_control_frames),
        cmocka_unit_test(test_ws_reader_protocol_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
