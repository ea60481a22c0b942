/* fuzz_form.c — the request-body trust boundary of core/http: form decoding
 * and Content-Encoding decoding. The first byte picks a decoded-size limit,
 * so the limit paths (413) are reached as often as the success paths; the
 * rest is fed to the form parser (its values then to the JSON escaper, as
 * error messages quote them) and to each decoder. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = { 0, 1, 16, 4096, 1 << 20 };
    static const char *const encodings[] = { NULL, "identity", "gzip", "deflate", "snappy",
                                             "br" };
    size_t max = size ? limits[data[0] % 5] : 4096;
    const char *in = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;

    struct scry_arena *a = scry_arena_create(0);
    struct scry_err err;
    struct scry_http_param *v = NULL;
    size_t n = 0, cap = 0;
    if (scry_http_form_parse(a, in, len, &v, &n, &cap, &err) == 0) {
        /* Every string must be terminated, and its JSON form must hold no
         * raw control character (decoded values go into error messages). */
        struct scry_buf b = { 0 };
        for (size_t i = 0; i < n; i++) {
            scry_buf_reset(&b);
            (void)strlen(v[i].key);
            scry_json_escape(&b, v[i].value, strlen(v[i].value));
            for (size_t k = 0; k < b.len; k++)
                if ((unsigned char)b.p[k] < 0x20)
                    __builtin_trap();
        }
        scry_buf_fini(&b);
    }
    for (size_t e = 0; e < sizeof encodings / sizeof encodings[0]; e++) {
        const char *out = NULL;
        size_t out_len = 0;
        scry_err_clear(&err);
        if (scry_http_body_decode(a, encodings[e], in, len, max, &out, &out_len, &err) == 0) {
            if (out_len > max || out[out_len] != 0)
                __builtin_trap();
        } else if (err.msg[0] == 0) {
            __builtin_trap(); /* every failure must say why */
        }
    }
    scry_arena_destroy(a);
    return 0;
}
