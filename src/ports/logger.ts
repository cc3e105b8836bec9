// The logging the core needs (pino's shape); the edge injects a child logger per request or job.
export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}
