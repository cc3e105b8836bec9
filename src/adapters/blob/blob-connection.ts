// One Blob container and how every port call reaches it: the SDK's bounded retries, a client-side
// deadline, the caller's cancellation and the store's close, with every failure mapped to an AppError.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import {
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageRetryPolicyType,
} from '@azure/storage-blob';
import { AppError } from '../../domain/errors.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { hasStatus, toAppError } from './blob-errors.ts';

export interface BlobTimeouts {
  /** Tries per request, the first included (the SDK retries 500, 503 and network errors). */
  readonly maxTries: number;
  /** Delay before the second retry; exponential after that, capped by `maxRetryDelayMs`. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Client-side deadline for one port call, retries and body included. */
  readonly operationTimeoutMs: number;
}

// Short and bounded: a down store fails in about a second, a hung one within the deadline, and
// the caller's own retry policy (domain/retry-policy.ts) decides what happens next.
export const DEFAULT_BLOB_TIMEOUTS: BlobTimeouts = {
  maxTries: 3,
  retryDelayMs: 200,
  maxRetryDelayMs: 2_000,
  operationTimeoutMs: 20_000,
};

interface CommonConnectOptions {
  readonly containerName: string;
  readonly timeouts?: Partial<BlobTimeouts>;
}

export type BlobConnectOptions =
  | (CommonConnectOptions & { readonly connectionString: string })
  | (CommonConnectOptions & { readonly accountUrl: string; readonly credential?: TokenCredential })
  /** A container client the caller already holds: its own pipeline (retries, credential) applies. */
  | { readonly containerClient: ContainerClient; readonly timeouts?: Partial<BlobTimeouts> };

export class BlobConnection {
  readonly container: ContainerClient;
  readonly timeouts: BlobTimeouts;
  readonly #storeName: string;
  /** Aborts whatever is in flight when the store closes, so shutdown never waits on a hung request. */
  readonly #closing = new AbortController();

  private constructor(container: ContainerClient, timeouts: BlobTimeouts, storeName: string) {
    this.container = container;
    this.timeouts = timeouts;
    this.#storeName = storeName;
  }

  /**
   * Connects and creates the container when absent; UNAVAILABLE when the account cannot be reached.
   * `storeName` names the store in errors ("The Blob archive store is closed").
   */
  static async open(options: BlobConnectOptions, storeName: string): Promise<BlobConnection> {
    const timeouts = { ...DEFAULT_BLOB_TIMEOUTS, ...options.timeouts };
    const pipeline = {
      retryOptions: {
        retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
        maxTries: timeouts.maxTries,
        retryDelayInMs: timeouts.retryDelayMs,
        maxRetryDelayInMs: timeouts.maxRetryDelayMs,
        // Sent as the server-side `timeout` for each try; the client-side deadline is operationTimeoutMs.
        tryTimeoutInMs: Math.max(1_000, timeouts.operationTimeoutMs),
      },
    };
    const connection = new BlobConnection(containerClientOf(options, pipeline), timeouts, storeName);
    const container = connection.container;
    await connection.call(`create container ${container.containerName}`, undefined, async (abortSignal) => {
      try {
        await container.createIfNotExists({ abortSignal });
      } catch (error) {
        // An identity with data-plane rights only may not create containers; an existing one is enough.
        if (!hasStatus(error, 403) || !(await container.exists({ abortSignal }))) throw error;
      }
    });
    return connection;
  }

  /** Runs one port call under the caller's signal, the deadline and the close; maps every failure. */
  async call<T>(
    what: string,
    options: OperationOptions | undefined,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    const deadline = AbortSignal.timeout(this.timeouts.operationTimeoutMs);
    const caller = options?.abortSignal;
    const signal = AbortSignal.any(
      caller === undefined ? [deadline, this.#closing.signal] : [caller, deadline, this.#closing.signal],
    );
    try {
      return await work(signal);
    } catch (error) {
      // The caller's own cancellation is theirs to handle, with the reason they gave.
      if (caller?.aborted === true) throw caller.reason;
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      if (deadline.aborted) {
        throw new AppError(
          'UNAVAILABLE',
          `Blob Storage did not ${what} within ${this.timeouts.operationTimeoutMs} ms`,
          { cause: error },
        );
      }
      throw toAppError(error, what);
    }
  }

  /** Aborts the calls in flight and refuses new ones, with UNAVAILABLE (not retryable). */
  close(): void {
    this.#closing.abort(new AppError('UNAVAILABLE', `${this.#storeName} is closed`, { retryable: false }));
  }
}

function containerClientOf(options: BlobConnectOptions, pipeline: StoragePipelineOptions): ContainerClient {
  if ('containerClient' in options) return options.containerClient;
  const service =
    'connectionString' in options
      ? BlobServiceClient.fromConnectionString(options.connectionString, pipeline)
      : new BlobServiceClient(
          options.accountUrl,
          options.credential ?? new DefaultAzureCredential(),
          pipeline,
        );
  return service.getContainerClient(options.containerName);
}

/** Properties carry `"0x…"` but list items carry `0x…`; the ports always speak the quoted form. */
export function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}
