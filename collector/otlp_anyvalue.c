/* otlp_anyvalue.c — an OTLP AnyValue as text or JSON, shared by the metrics
 * translator (attributes → label values) and the log mapper (attributes →
 * structured metadata, bodies → lines).
 *
 * Scalars are written as pcommon's AsString does, arrays and maps as JSON,
 * bytes as standard base64. The two callers differ only in how a double is
 * spelled (see enum col__otlp_av_style), so one walker serves both and their
 * outputs stay what they were when each had its own copy. */
#include "collector/otlp_internal.h"

#include <inttypes.h>
#include <math.h>

#include "core/json.h"

void col__otlp_b64(struct scry_buf *out, const uint8_t *p, size_t len)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        scry_buf_putc(out, t[v >> 18 & 63]);
        scry_buf_putc(out, t[v >> 12 & 63]);
        scry_buf_putc(out, i + 1 < len ? t[v >> 6 & 63] : '=');
        scry_buf_putc(out, i + 2 < len ? t[v & 63] : '=');
    }
}

static void json_double(struct scry_json *j, double d, enum col__otlp_av_style style)
{
    /* JSON has no NaN/Inf: the translator keeps them as Prometheus's
     * strings, the log mapper writes null. Finite values print alike. */
    if (style == COL__OTLP_AV_PROM && !isfinite(d))
        scry_json_double_str(j, d);
    else
        scry_json_double(j, d);
}

void col__otlp_anyvalue_json(struct scry_json *j, const ot_any *v, enum col__otlp_av_style style)
{
    if (!v) {
        scry_json_null(j);
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        scry_json_str(j, v->string_value ? v->string_value : "");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        scry_json_bool(j, v->bool_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        scry_json_int(j, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        json_double(j, v->double_value, style);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE: {
        /* Bytes inside arrays and maps are rare: a scratch buffer each time. */
        struct scry_buf t = { 0 };
        col__otlp_b64(&t, v->bytes_value.data, v->bytes_value.len);
        scry_json_strn(j, t.p ? t.p : "", t.len);
        scry_buf_fini(&t);
        break;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        scry_json_arr_begin(j);
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++)
            col__otlp_anyvalue_json(j, v->array_value->values[i], style);
        scry_json_arr_end(j);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        scry_json_obj_begin(j);
        for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            const ot_kv *kv = v->kvlist_value->values[i];
            scry_json_key(j, kv->key ? kv->key : "");
            col__otlp_anyvalue_json(j, kv->value, style);
        }
        scry_json_obj_end(j);
        break;
    default:
        scry_json_null(j);
        break;
    }
}

void col__otlp_anyvalue_str(struct scry_buf *out, const ot_any *v, enum col__otlp_av_style style)
{
    if (!v)
        return;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        scry_buf_puts(out, v->string_value ? v->string_value : "");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        scry_buf_puts(out, v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        scry_buf_printf(out, "%" PRId64, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (style == COL__OTLP_AV_PROM)
            scry_buf_put_double_api(out, v->double_value);
        else
            scry_buf_put_double(out, v->double_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        col__otlp_b64(out, v->bytes_value.data, v->bytes_value.len);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        struct scry_json j;
        scry_json_init(&j, out);
        col__otlp_anyvalue_json(&j, v, style);
        break;
    }
    default:
        break; /* empty AnyValue, or a Profiles string index: no value */
    }
}
