// send_logs.js — a real OpenTelemetry JS log client for scry's OTLP/HTTP
// logs receiver: `node send_logs.js http://127.0.0.1:PORT T0_MS` emits, with
// each of the two exporters (protobuf, then JSON), three log records with
// known bodies, severities, attributes and timestamps (T0_MS + 0/1/2 ms)
// from its own resource (service.instance.id = "proto" / "json"), through
// a BatchLogRecordProcessor, then shuts the provider down (one request per
// exporter). Exits non-zero if an export fails. Used by
// tests/integration/test_otlp_js.py.
'use strict';

const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPLogExporter: ProtoExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { OTLPLogExporter: JsonExporter } = require('@opentelemetry/exporter-logs-otlp-http');

async function send(base, kind, Exporter, t0) {
  const exporter = new Exporter({ url: base + '/v1/logs', timeoutMillis: 10000 });
  let failed = null;
  const origExport = exporter.export.bind(exporter);
  exporter.export = (logs, cb) => origExport(logs, (res) => {
    if (res.code !== 0) failed = res.error || new Error('export failed');
    cb(res);
  });
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': 'otel-js-logs',
      'service.namespace': 'scry',
      'service.instance.id': kind,
      'host.name': 'test-host',
    }),
    processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 3600000 })],
  });
  const logger = provider.getLogger('scry-test', '1.0.0');
  logger.emit({
    timestamp: t0, severityNumber: SeverityNumber.INFO, severityText: 'INFO',
    body: 'user logged in', attributes: { 'user.id': 42, 'http.route': '/login' },
  });
  logger.emit({
    timestamp: t0 + 1, severityNumber: SeverityNumber.ERROR, severityText: 'ERROR',
    body: 'payment failed', attributes: { retry: true },
  });
  logger.emit({
    timestamp: t0 + 2, severityNumber: SeverityNumber.WARN, severityText: 'WARN',
    body: { event: 'slow', ms: 1500 },
  });
  await provider.forceFlush();
  await provider.shutdown();
  if (failed) throw failed;
}

async function main() {
  const base = process.argv[2];
  const t0 = Number(process.argv[3]);
  if (!base || !t0) {
    console.error('usage: node send_logs.js http://HOST:PORT T0_MS');
    process.exit(2);
  }
  await send(base, 'proto', ProtoExporter, t0);
  await send(base, 'json', JsonExporter, t0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
