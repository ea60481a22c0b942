/* otlp_internal.h — shared by collector/otlp*.c only: short names for the
 * protobuf-c types generated from proto/otlp_*.proto, and helpers the files
 * share. Not a public header: it includes generated code. */
#ifndef SCRY_COLLECTOR_OTLP_INTERNAL_H
#define SCRY_COLLECTOR_OTLP_INTERNAL_H

#include "collector/otlp.h"
#include "collector/proto/otlp_metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ot_req;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ot_rm;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ot_sm;
typedef Opentelemetry__Proto__Resource__V1__Resource ot_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope ot_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue ot_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue ot_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ot_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList ot_kvlist;
typedef Opentelemetry__Proto__Metrics__V1__Metric ot_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge ot_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum ot_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram ot_hist;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ot_ehist;
typedef Opentelemetry__Proto__Metrics__V1__Summary ot_summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint ot_ndp;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint ot_hdp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ot_edp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ot_buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint ot_sdp;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile ot_quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar ot_exemplar;

#define OT_DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define OT_CUMULATIVE \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define OT_NO_RECORDED_VALUE 1u

/* Nesting limit for both decoders, counted in messages from the request
 * down (a KeyValue inside a data point is at depth 6; each AnyValue array
 * or kvlist level adds 2), so AnyValue recursion cannot exhaust the stack. */
#define COL__OTLP_MAX_DEPTH 64

#endif
