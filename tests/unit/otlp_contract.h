/* otlp_contract.h — the OTLP/HTTP contract's metrics example
 * (shared/contracts/otlp-http.md §5.4, verbatim; upstream examples/metrics.json,
 * trimmed), for the JSON reader's tests (core) and the OTLP decoder's
 * (collector). */
#ifndef SCRY_TESTS_OTLP_CONTRACT_H
#define SCRY_TESTS_OTLP_CONTRACT_H

static const char otlp_contract_metrics[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"my.service\"}}]},\n"
    " \"scopeMetrics\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},\"metrics\":[\n"
    "  {\"name\":\"my.counter\",\"unit\":\"1\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,\n"
    "     \"dataPoints\":[{\"asDouble\":5,\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.gauge\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":10,\"timeUnixNano\":\"1544712660300000000\"}]}},\n"
    "  {\"name\":\"my.histogram\",\"unit\":\"1\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"2\",\"sum\":2,\"bucketCounts\":[\"1\",\"1\"],\"explicitBounds\":[1],\"min\":0,\"max\":2}]}},\n"
    "  {\"name\":\"my.exponential.histogram\",\"unit\":\"1\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[\n"
    "     {\"startTimeUnixNano\":\"1544712660300000000\",\"timeUnixNano\":\"1544712660300000000\",\n"
    "      \"count\":\"3\",\"sum\":10,\"scale\":0,\"zeroCount\":\"1\",\"positive\":{\"offset\":1,\"bucketCounts\":[\"0\",\"2\"]},\n"
    "      \"min\":0,\"max\":5,\"zeroThreshold\":0}]}}]}]}]}\n";

#endif
