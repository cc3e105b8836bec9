// The queue of admin-started archival runs against Azurite's Queue service: what a run's message looks
// like to the Functions queue trigger (base64 JSON), and how failures reach the caller.
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageRunQueue } from '../../src/adapters/queue/storage-run-queue.ts';
import { type AzuriteQueue, startAzuriteQueue } from '../support/azurite-queue.ts';

describe('StorageRunQueue on Azurite', () => {
  let azurite: AzuriteQueue;
  beforeAll(async () => {
    azurite = await startAzuriteQueue();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('creates its queue and sends each run as base64 JSON, as the queue trigger decodes it', async () => {
    const queue = await StorageRunQueue.connect({
      connectionString: azurite.connectionString,
      queueName: 'archival-runs',
    });
    await queue.enqueue({
      runId: 'run-1',
      dryRun: true,
      limit: 5,
      customerId: 'cust-1',
      asOf: '2026-01-01T00:00:00.000Z',
    });
    const raw = new QueueClient(azurite.connectionString, 'archival-runs');
    const { receivedMessageItems } = await raw.receiveMessages({ numberOfMessages: 10 });
    expect(receivedMessageItems).toHaveLength(1);
    const text = Buffer.from(receivedMessageItems[0]!.messageText, 'base64').toString('utf8');
    expect(JSON.parse(text)).toEqual({
      runId: 'run-1',
      dryRun: true,
      limit: 5,
      customerId: 'cust-1',
      asOf: '2026-01-01T00:00:00.000Z',
    });
    await queue.close();
    await expect(queue.enqueue({ runId: 'run-2' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryable: false,
    });
  });

  it('answers UNAVAILABLE, retryable, when the queue service is down', async () => {
    const doomed = await startAzuriteQueue();
    const queue = await StorageRunQueue.connect({
      connectionString: doomed.connectionString,
      queueName: 'runs',
    });
    await doomed.stop();
    await expect(queue.enqueue({ runId: 'run-3' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
    });
    await queue.close();
  });
});
