// JSON logs (pino) at the configured level; one root logger, children per request and per job.
// pino comes through its OpenTelemetry instrumentation: every line written inside a span carries
// trace_id and span_id (and, with Azure Monitor, lines are sent as OTel logs too).
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config.ts';
import { instrumentedPino } from './telemetry.ts';

export function createLogger(config: Pick<AppConfig, 'logLevel'>): Logger {
  return instrumentedPino()({ level: config.logLevel, base: { service: 'billing-records' } });
}
