// The queue of admin-started archival runs in Azure Storage (Azurite locally). Messages are base64 JSON,
// the encoding the Functions queue trigger decodes by default. Every SDK error is mapped to an AppError.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { QueueClient, QueueServiceClient, RestError } from '@azure/storage-queue';
import { AppError } from '../../domain/errors.ts';
import type { ArchivalRunQueue, QueuedArchivalRun } from '../../ports/archival-run-queue.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';

export type StorageRunQueueOptions = { readonly queueName: string } & (
  | { readonly connectionString: string }
  | { readonly queueServiceUrl: string; readonly credential?: TokenCredential }
);

/** A deadline per call: an admin's POST waits on the enqueue. */
const CALL_TIMEOUT_MS = 10_000;

export class StorageRunQueue implements ArchivalRunQueue {
  readonly #queue: QueueClient;
  readonly #closing = new AbortController();

  private constructor(queue: QueueClient) {
    this.#queue = queue;
  }

  /** Connects and creates the queue when absent (an identity that may only send needs it to exist). */
  static async connect(options: StorageRunQueueOptions): Promise<StorageRunQueue> {
    // Short and bounded, like the Blob adapters: an admin's POST waits on this.
    const pipeline = { retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 } };
    const service =
      'connectionString' in options
        ? QueueServiceClient.fromConnectionString(options.connectionString, pipeline)
        : new QueueServiceClient(
            options.queueServiceUrl,
            options.credential ?? new DefaultAzureCredential(),
            pipeline,
          );
    const store = new StorageRunQueue(service.getQueueClient(options.queueName));
    await store.#call(`create queue ${options.queueName}`, undefined, async (abortSignal) => {
      try {
        await store.#queue.createIfNotExists({ abortSignal });
      } catch (error) {
        // Storage Queue Data Message Sender may not create queues; the infrastructure does.
        if (!(error instanceof RestError && error.statusCode === 403)) throw error;
      }
    });
    return store;
  }

  enqueue(run: QueuedArchivalRun, options?: OperationOptions): Promise<void> {
    return this.#call(`queue archival run ${run.runId}`, options, async (abortSignal) => {
      const text = Buffer.from(JSON.stringify(run), 'utf8').toString('base64');
      await this.#queue.sendMessage(text, { abortSignal });
    });
  }

  close(): Promise<void> {
    this.#closing.abort();
    return Promise.resolve();
  }

  async #call<T>(
    what: string,
    options: OperationOptions | undefined,
    work: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.#closing.signal.aborted) {
      throw new AppError('UNAVAILABLE', 'The archival run queue is closed', { retryable: false });
    }
    const signals = [AbortSignal.timeout(CALL_TIMEOUT_MS), this.#closing.signal];
    if (options?.abortSignal !== undefined) signals.push(options.abortSignal);
    try {
      return await work(AbortSignal.any(signals));
    } catch (error) {
      if (options?.abortSignal?.aborted === true) throw options.abortSignal.reason;
      const status = error instanceof RestError ? error.statusCode : undefined;
      // Rights or a missing queue will not heal by retrying; an outage or throttling may.
      const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      throw new AppError('UNAVAILABLE', `Storage Queue could not ${what}: ${status ?? ''} ${message}`, {
        cause: error,
        retryable,
      });
    }
  }
}
