// The remote model of the live-during-archival benchmark: the embedded adapters behind the modelled
// round trips of the other remote-model benchmarks (REMOTE_MODEL_MS: Cosmos 5 ms point, 10 ms query;
// Blob 15 ms), and one modelled Cosmos throughput (RU/s) that the API and the archiver share. Every
// Cosmos call is charged what the store reports (the documented RU model); when the last second's
// charges have spent the throughput, a call is refused with 429 and a retry-after, as Cosmos does.
// Refused calls are retried as the product's Cosmos client retries them (DEFAULT_THROTTLE_RETRY: up to
// 3 retries within 5 s, honouring retry-after); past that, THROTTLED reaches the caller. No
// priority-based execution is modelled: the archiver's client-side budget and back-pressure are what
// keep the API's calls under the limit.
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_THROTTLE_RETRY } from '../../src/adapters/cosmos/cosmos-connection.ts';
import type { ServicePorts } from '../../src/composition/wire-services.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { OperationOptions } from '../../src/ports/operation-options.ts';
import type { ContainerThroughput } from '../../src/ports/record-store.ts';
import { blobLatency, cosmosLatency, withLatency } from './bench-world.ts';

/** A token bucket of request units: refills at the modelled RU/s, holds one second of them. */
export class ModelledThroughput {
  readonly requestUnitsPerSecond: number;
  /** 429s the model answered (before the client's retries), by who was refused. */
  readonly refused = { api: 0, archiver: 0 };
  /** Request units charged, by who spent them. */
  readonly spent = { api: 0, archiver: 0 };
  #tokens: number;
  #lastMs = performance.now();

  constructor(requestUnitsPerSecond: number) {
    this.requestUnitsPerSecond = requestUnitsPerSecond;
    this.#tokens = requestUnitsPerSecond;
  }

  /** Undefined when a call may run; else how long until it may (ms). */
  admit(): number | undefined {
    this.#refill();
    if (this.#tokens >= 0) return undefined;
    return Math.ceil((-this.#tokens / this.requestUnitsPerSecond) * 1000);
  }

  charge(requestUnits: number, who: 'api' | 'archiver'): void {
    this.#refill();
    this.#tokens -= requestUnits;
    this.spent[who] += requestUnits;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(
      this.requestUnitsPerSecond,
      this.#tokens + ((now - this.#lastMs) / 1000) * this.requestUnitsPerSecond,
    );
    this.#lastMs = now;
  }
}

/** The ports behind the model: Cosmos (store, ledger) metered and throttled, Blob (archive, control) delayed. */
export function remoteModelPorts(ports: ServicePorts, throughput: ModelledThroughput): ServicePorts {
  return {
    ...ports,
    store: meteredCosmos(ports.store, throughput),
    ledger: meteredCosmos(ports.ledger, throughput),
    archive: withLatency(ports.archive, blobLatency),
    control: withLatency(ports.control, blobLatency),
  };
}

function meteredCosmos<T extends object>(port: T, throughput: ModelledThroughput): T {
  const provisioned: ContainerThroughput = {
    kind: 'provisioned',
    requestUnitsPerSecond: throughput.requestUnitsPerSecond,
    scope: 'container',
  };
  return new Proxy(port, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      const name = String(property);
      if (typeof value !== 'function' || name === 'close') return value;
      // Cosmos DB has no read of a record's stored API JSON (its SDK parses every document): the model
      // does not offer SQLite's, so a GET there parses and serialises as it would against Cosmos.
      if (name === 'getJson') return undefined;
      // The archiver reads the container's throughput to size its budget (a share of it).
      if (name === 'readThroughput') return () => delay(cosmosLatency(name)).then(() => provisioned);
      const method = value as (...args: unknown[]) => unknown;
      // Every port call takes its options last (the Azure SDK's convention).
      const optionsAt = Math.max(0, method.length - 1);
      return async (...args: unknown[]): Promise<unknown> => {
        const given = args[optionsAt] as OperationOptions | undefined;
        const who = given?.priority === 'low' ? 'archiver' : 'api';
        let charged = 0;
        const callArgs = [...args];
        callArgs[optionsAt] = {
          ...given,
          onRequestCharge: (units: number, estimated: boolean) => {
            charged += units;
            given?.onRequestCharge?.(units, estimated);
          },
        } satisfies OperationOptions;
        let waitedMs = 0;
        for (let retries = 0; ; retries++) {
          await delay(cosmosLatency(name));
          const retryAfterMs = throughput.admit();
          if (retryAfterMs === undefined) break;
          throughput.refused[who] += 1;
          if (
            retries >= DEFAULT_THROTTLE_RETRY.maxRetries ||
            waitedMs + retryAfterMs > DEFAULT_THROTTLE_RETRY.maxWaitSeconds * 1000
          )
            throw new AppError('THROTTLED', `${name}: the modelled Cosmos DB throttled the request (429)`, {
              retryAfterMs,
            });
          await delay(retryAfterMs);
          waitedMs += retryAfterMs;
        }
        const result = await method.apply(target, callArgs);
        throughput.charge(charged, who);
        return result;
      };
    },
  });
}
