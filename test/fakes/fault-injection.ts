// A fault-injecting wrapper around any port adapter: every call passes through a plan that may make it
// fail before it is sent (nothing happens), after it commits (the effect stays, the caller sees an
// error), or crash the "process" (that call and every later call through any wrapper fail).
import { AppError } from '../../src/domain/errors.ts';

export type Fault =
  | 'throttle' // 429 with retry-after, before the call
  | 'unavailable' // 503 before the call
  | 'timeout-before' // the request never reached the store
  | 'timeout-after' // the store applied it, the answer was lost
  | 'crash-before'
  | 'crash-after';

export interface CallInfo {
  readonly port: string;
  readonly method: string;
  readonly args: readonly unknown[];
  /** 1-based count of calls to write methods so far, across every wrapper of this injector. */
  readonly writeIndex: number | undefined;
}

export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = 'SimulatedCrash';
  }
}

export const WRITE_METHODS = new Set([
  'create',
  'replace',
  'delete',
  'put',
  'putIfAbsent',
  'touch',
  'write',
  'acquireLease',
  'renewLease',
  'releaseLease',
]);

/**
 * Writes of the tier counters (control documents under `counters/`): best effort by design (a lost delta
 * is mended by a recount) and flushed in the background, so their number and order vary from run to run.
 * They are not counted among the protocol's writes (crash points stay the same in every run); they still
 * fail once the process has crashed.
 */
function isBestEffortWrite(port: string, args: readonly unknown[]): boolean {
  return port === 'control' && typeof args[0] === 'string' && args[0].startsWith('counters/');
}

export class FaultInjector {
  #crashed = false;
  #writes = 0;
  readonly log: string[] = [];
  plan: (call: CallInfo) => Fault | undefined = () => undefined;

  get crashed(): boolean {
    return this.#crashed;
  }

  get writeCount(): number {
    return this.#writes;
  }

  wrap<T extends object>(port: string, target: T): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value: unknown = Reflect.get(object, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') {
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
        }
        return async (...args: unknown[]) => {
          if (this.#crashed) throw new SimulatedCrash(`(process already dead) at ${port}.${property}`);
          const isWrite = WRITE_METHODS.has(property) && !isBestEffortWrite(port, args);
          const writeIndex = isWrite ? ++this.#writes : undefined;
          const fault = this.plan({ port, method: property, args, writeIndex });
          if (fault !== undefined) this.log.push(`${port}.${property}#${writeIndex ?? '-'}:${fault}`);
          switch (fault) {
            case 'crash-before':
              this.#crashed = true;
              throw new SimulatedCrash(`before ${port}.${property}`);
            case 'throttle':
              throw new AppError('THROTTLED', `injected 429 on ${port}.${property}`, { retryAfterMs: 50 });
            case 'unavailable':
            case 'timeout-before':
              throw new AppError('UNAVAILABLE', `injected ${fault} on ${port}.${property}`);
            default:
              break;
          }
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(object, args);
          if (fault === 'crash-after') {
            this.#crashed = true;
            throw new SimulatedCrash(`after ${port}.${property}`);
          }
          if (fault === 'timeout-after')
            throw new AppError('UNAVAILABLE', `injected lost answer on ${port}.${property}`);
          return result;
        };
      },
    });
  }
}
