// The JSON lines a logger writes, kept in memory: what a test reads back to check a log field.
import { Writable } from 'node:stream';
import { context, type Span, trace } from '@opentelemetry/api';
import { instrumentedPino } from '../../src/composition/telemetry.ts';

/** Logs one line through the instrumented pino inside `span`; answers the line, parsed. */
export function logLineInside(span: Span): Record<string, unknown> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = instrumentedPino()({ level: 'info' }, sink);
  context.with(trace.setSpan(context.active(), span), () => logger.info('inside a span'));
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}
