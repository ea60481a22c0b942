// send.js — a real OpenTelemetry JS client for scry's OTLP/HTTP metrics
// receiver: `node send.js http://127.0.0.1:PORT` sends, with each of the
// two exporters (protobuf, then JSON), a counter, an observable gauge and a
// histogram with known values, from its own resource
// (service.instance.id = "proto" / "json"), then shuts the provider down.
// Each forceFlush and the shutdown send one request (cumulative temporality,
// the SDK default), so the receiver sees every series twice.
// Exits non-zero if an export fails. Used by tests/integration/test_otlp_js.py.
'use strict';

const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPMetricExporter: ProtoExporter } = require('@opentelemetry/exporter-metrics-otlp-proto');
const { OTLPMetricExporter: JsonExporter } = require('@opentelemetry/exporter-metrics-otlp-http');

async function send(base, kind, Exporter) {
  const exporter = new Exporter({ url: base + '/v1/metrics', timeoutMillis: 10000 });
  let failed = null;
  const origExport = exporter.export.bind(exporter);
  exporter.export = (metrics, cb) => origExport(metrics, (res) => {
    if (res.code !== 0) failed = res.error || new Error('export failed');
    cb(res);
  });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'otel-js-test',
      'service.namespace': 'scry',
      'service.instance.id': kind,
      'deployment.environment.name': 'test',
    }),
    readers: [reader],
  });
  const meter = provider.getMeter('scry-test', '1.0.0');

  const requests = meter.createCounter('test.requests', { unit: '{request}', description: 'requests' });
  requests.add(3, { route: '/a' });
  requests.add(4, { route: '/b' });
  requests.add(1, { route: '/a' });

  const temp = meter.createObservableGauge('test.temperature', { unit: 'Cel' });
  temp.addCallback((r) => r.observe(21.5, { room: 'lab' }));

  const latency = meter.createHistogram('test.latency', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: [10, 100, 1000] },
  });
  for (const v of [5, 50, 500, 5000]) latency.record(v, { method: 'GET' });

  await provider.forceFlush();
  await provider.shutdown();
  if (failed) throw failed;
}

async function main() {
  const base = process.argv[2];
  if (!base) {
    console.error('usage: node send.js http://HOST:PORT');
    process.exit(2);
  }
  await send(base, 'proto', ProtoExporter);
  await send(base, 'json', JsonExporter);
  console.log('sent');
}

main().catch((e) => {
  console.error('send.js: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
