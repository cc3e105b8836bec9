// JSON logs (pino) at the configured level; one root logger, children per request and per job.
import { pino, type Logger } from 'pino';
import type { AppConfig } from '../config/app-config.ts';

export function createLogger(config: Pick<AppConfig, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'billing-records' } });
}
