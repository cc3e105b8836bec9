// OpenTelemetry, set up once per process: the one instrumentation API for traces, metrics and logs.
// Traces: a global tracer provider (W3C traceparent), exported to Azure Monitor when
// APPLICATIONINSIGHTS_CONNECTION_STRING is set, to nowhere otherwise (the trace ids still reach every
// log line and problem body). Metrics: a meter provider per opened process, read by Prometheus
// (`/metrics`), by the in-process alert evaluator and, with a connection string, by Azure Monitor.
// Logs: pino, correlated (trace_id, span_id) and sent to the OTel logs API by its instrumentation.
//
// The project runs as native ES modules, where the require hooks of the instrumentations never see
// an import; so each instrumentation is applied here to the module it patches, explicitly.
import { createRequire } from 'node:module';
import { syncBuiltinESMExports } from 'node:module';
import { metrics as metricsApi, type Meter, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  InstrumentType,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { AlwaysOffSampler, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { pino as PinoFactory } from 'pino';

export const SERVICE_NAME = 'billing-records';
const SERVICE_VERSION = '0.1.0';

export interface TracingOptions {
  /** Application Insights: traces and logs go to Azure Monitor (metrics too, per meter provider). */
  readonly connectionString?: string | undefined;
  /** Extra span processors (tests: an in-memory exporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
}

interface TracingState {
  readonly connectionString: string | undefined;
  readonly instrumentations: readonly Instrumentation[];
}

let tracing: TracingState | undefined;

/**
 * Sets up tracing and log correlation for this process, once; later calls return at once (a process
 * opens its services once, tests may open several). Returns whether this call set it up.
 */
export async function startTracing(options: TracingOptions = {}): Promise<boolean> {
  if (tracing !== undefined) return false;
  const connectionString = options.connectionString;
  const httpInstrumentation = new HttpInstrumentation({
    // Incoming requests get their span from @fastify/otel (with the route); this one traces the
    // outgoing calls of the Azure SDK (Blob, Cosmos) and of the alert webhook. Not patching the server
    // side at all spares every request its wrapper (ignoring requests still ran it).
    disableIncomingRequestInstrumentation: true,
  });
  const instrumentations: Instrumentation[] = [
    httpInstrumentation,
    new IORedisInstrumentation({ requireParentSpan: true }),
    new PinoInstrumentation({ disableLogSending: connectionString === undefined }),
  ];
  if (connectionString !== undefined) {
    // The distro sets the global tracer and logger providers with Azure Monitor exporters; its own
    // instrumentations are off, since they hook `require` only: the ones above are applied instead.
    const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString },
      resource: serviceResource(),
      enableLiveMetrics: false,
      ...(options.spanProcessors !== undefined ? { spanProcessors: [...options.spanProcessors] } : {}),
      instrumentationOptions: {
        http: { enabled: false },
        azureSdk: { enabled: false },
        redis: { enabled: false },
        redis4: { enabled: false },
        mongoDb: { enabled: false },
        mySql: { enabled: false },
        postgreSql: { enabled: false },
        bunyan: { enabled: false },
        winston: { enabled: false },
      },
    });
  } else {
    const spanProcessors = [...(options.spanProcessors ?? [])];
    const provider = new NodeTracerProvider({
      resource: serviceResource(),
      spanProcessors,
      // Nothing exports the spans: record none (no attributes, events or timings kept for nobody). Each
      // span still carries its trace id (a caller's traceparent, or a new one) to logs and problem bodies.
      ...(spanProcessors.length === 0 ? { sampler: new AlwaysOffSampler() } : {}),
    });
    provider.register({ propagator: new W3CTraceContextPropagator() });
  }
  for (const instrumentation of instrumentations)
    instrumentation.setTracerProvider(trace.getTracerProvider());
  const require = createRequire(import.meta.url);
  // The CommonJS objects of the built-ins (ES namespaces are frozen), then synced to their ES exports.
  applyTo(httpInstrumentation, 'http', require('node:http') as object);
  applyTo(httpInstrumentation, 'https', require('node:https') as object);
  syncBuiltinESMExports();
  applyTo(instrumentations[1]!, 'ioredis', require('ioredis') as object);
  const azureSdk = await import('@azure/opentelemetry-instrumentation-azure-sdk');
  const azureInstrumentation = azureSdk.createAzureSdkInstrumentation() as unknown as Instrumentation;
  applyTo(azureInstrumentation, '@azure/core-tracing', await import('@azure/core-tracing'));
  instrumentations.push(azureInstrumentation);
  tracing = { connectionString, instrumentations };
  return true;
}

/** pino, with the trace id in every line written inside a span (and sent as OTel logs with Azure Monitor). */
export function instrumentedPino(): typeof PinoFactory {
  const require = createRequire(import.meta.url);
  const original = require('pino') as typeof PinoFactory;
  const instrumentation = tracing?.instrumentations.find((i) => i instanceof PinoInstrumentation);
  if (instrumentation === undefined) return pinoWithCorrelation(original);
  return applyTo(instrumentation, 'pino', original) as typeof PinoFactory;
}

// Before startTracing (a CLI that never traces): the same correlation, by the instrumentation's mixin.
let correlationOnly: PinoInstrumentation | undefined;
function pinoWithCorrelation(original: typeof PinoFactory): typeof PinoFactory {
  correlationOnly ??= new PinoInstrumentation({ disableLogSending: true });
  return applyTo(correlationOnly, 'pino', original) as typeof PinoFactory;
}

/** Applies an instrumentation's patch for `moduleName` to exports already loaded (ES modules). */
function applyTo(instrumentation: Instrumentation, moduleName: string, exports: object): unknown {
  const definitions = (
    instrumentation as unknown as {
      getModuleDefinitions(): Array<{
        name: string;
        patch?: (exports: unknown, version?: string) => unknown;
      }>;
    }
  ).getModuleDefinitions();
  const definition = definitions.find((candidate) => candidate.name === moduleName);
  if (definition?.patch === undefined)
    throw new Error(`${instrumentation.instrumentationName} has no ${moduleName}`);
  return definition.patch(exports, undefined) ?? exports;
}

function serviceResource() {
  return resourceFromAttributes({
    [ATTR_SERVICE_NAME]: SERVICE_NAME,
    [ATTR_SERVICE_VERSION]: SERVICE_VERSION,
  });
}

/** The trace id of the active span, if any (problem bodies, audit, webhook payloads). */
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context !== undefined && context.traceId !== '00000000000000000000000000000000'
    ? context.traceId
    : undefined;
}

// ---- Metrics ----

/** A reader that collects on demand (Prometheus scrapes, the alert evaluator): cumulative values. */
export class PullMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  override collect(): Promise<CollectionResult> {
    return super.collect();
  }
}

export interface MetricsPipeline {
  readonly meter: Meter;
  /** What the in-process alert evaluator reads. */
  readonly reader: PullMetricReader;
  /** The Prometheus exposition text of every instrument (GET /metrics). */
  prometheusText(): Promise<{ contentType: string; body: string }>;
  shutdown(): Promise<void>;
}

export interface MetricsPipelineOptions {
  readonly connectionString?: string | undefined;
  /** Node's runtime metrics (event loop, GC, heap); off in unit tests. */
  readonly runtimeMetrics?: boolean;
}

/** A meter provider of its own (no global state between tests), read by Prometheus and the evaluator. */
export function createMetricsPipeline(options: MetricsPipelineOptions = {}): MetricsPipeline {
  // One cumulative reader for both Prometheus and the alert evaluator: collecting cumulative values
  // resets nothing, and every reader is one more storage that each record() hashes its attributes into.
  const pull = new PullMetricReader();
  const readers: MetricReader[] = [pull];
  if (options.connectionString !== undefined) readers.push(azureMonitorReader(options.connectionString));
  const provider = new MeterProvider({ resource: serviceResource(), readers });
  const runtime =
    options.runtimeMetrics === true
      ? new RuntimeNodeInstrumentation({ monitoringPrecision: 5000 })
      : undefined;
  runtime?.setMeterProvider(provider);
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  return {
    meter: provider.getMeter(SERVICE_NAME, SERVICE_VERSION),
    reader: pull,
    async prometheusText() {
      const { resourceMetrics } = await pull.collect();
      return {
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        body: serializer.serialize(resourceMetrics),
      };
    },
    async shutdown() {
      runtime?.disable();
      await provider.shutdown();
    },
  };
}

let azureMetricExporter: (connectionString: string) => MetricReader = () => {
  throw new Error('loadAzureMonitorMetrics() first');
};

/** Loads the Azure Monitor metric exporter (only when a connection string is set). */
export async function loadAzureMonitorMetrics(): Promise<void> {
  const { AzureMonitorMetricExporter } = await import('@azure/monitor-opentelemetry-exporter');
  azureMetricExporter = (connectionString) =>
    new PeriodicExportingMetricReader({
      exporter: new AzureMonitorMetricExporter({ connectionString }),
      exportIntervalMillis: 60_000,
    });
}

function azureMonitorReader(connectionString: string): MetricReader {
  return azureMetricExporter(connectionString);
}

// Kept for callers that want the global meter (there is none by default): the API's no-op meter.
export const noopMeter = (): Meter => metricsApi.getMeterProvider().getMeter(SERVICE_NAME);
export { InstrumentType, logs };
