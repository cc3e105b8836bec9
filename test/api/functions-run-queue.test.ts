// Under Azure Functions an admin-started archival run must not outlive the HTTP invocation that
// answered 202: the route queues it (a real Storage queue, Azurite's), and the queue-triggered function
// runs it to the end inside an invocation of its own, under the same run id.
import {
  type HttpFunctionOptions,
  HttpRequest,
  type HttpResponseInit,
  InvocationContext,
  type StorageQueueFunctionOptions,
} from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageRunQueue } from '../../src/adapters/queue/storage-run-queue.ts';
import { registerAll } from '../../src/functions/main.ts';
import { type AzuriteQueue, startAzuriteQueue } from '../support/azurite-queue.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { makeDocument } from '../support/record-fixtures.ts';

const context = (): InvocationContext =>
  new InvocationContext({ functionName: 'test', logHandler: () => undefined });

describe('admin-started archival runs under Functions', () => {
  let azurite: AzuriteQueue;
  let queue: StorageRunQueue;
  let test: TestApplication;
  const http = new Map<string, HttpFunctionOptions>();
  const queued = new Map<string, StorageQueueFunctionOptions>();

  beforeAll(async () => {
    azurite = await startAzuriteQueue();
    queue = await StorageRunQueue.connect({ connectionString: azurite.connectionString, queueName: 'runs' });
    test = await createTestApplication({ runQueue: queue });
    registerAll(
      (name, options) => http.set(name, options),
      () =>
        Promise.resolve({
          application: test.application,
          archival: test.archival,
          audit: test.wired.audit,
          close: () => Promise.resolve(),
        }),
      {
        register: () => undefined,
        runQueue: { register: (name, options) => queued.set(name, options), queueName: 'runs' },
      },
    );
  });
  afterAll(async () => {
    await test?.wired.shutdown();
    await queue?.close();
    await azurite?.stop();
  });

  it('answer 202, queue the run, and run it to the end in the queue-triggered invocation', async () => {
    for (let i = 0; i < 3; i++) {
      await test.store.create(
        makeDocument({
          customerId: 'cust-q',
          id: `old-${i}`,
          issuedAt: '2024-01-0' + String(i + 1) + 'T00:00:00.000Z',
        }),
      );
    }
    const token = await test.token(['Billing.Admin']);
    const start = http.get('startArchivalRun');
    expect(start).toBeDefined();
    const answer = (await start!.handler(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/v1/admin/archival/runs',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: { string: JSON.stringify({ dryRun: false }) },
      }),
      context(),
    )) as HttpResponseInit;
    expect(answer.status).toBe(202);
    const { runId } = JSON.parse(answer.body as string) as { runId: string };

    // Nothing runs in this process: the report waits, the message is on the queue.
    expect(await test.archival.getRun(runId)).toMatchObject({
      runId,
      status: 'running',
      counts: { copied: 0 },
    });
    const raw = new QueueClient(azurite.connectionString, 'runs');
    const { receivedMessageItems } = await raw.receiveMessages();
    expect(receivedMessageItems).toHaveLength(1);
    const message = JSON.parse(Buffer.from(receivedMessageItems[0]!.messageText, 'base64').toString('utf8'));
    expect(message).toMatchObject({ runId, dryRun: false });

    // The host decodes the message and invokes the trigger with it.
    const trigger = queued.get('archivalRunQueued');
    expect(trigger).toMatchObject({ queueName: 'runs', connection: 'ARCHIVE_QUEUE' });
    await trigger!.handler(message, context());
    const report = await test.archival.getRun(runId);
    expect(report).toMatchObject({ runId, status: 'succeeded' });
    expect(report.counts.copied).toBe(3);
  });

  it('refuses a message without a run id (the host then retries and parks it)', async () => {
    await expect(queued.get('archivalRunQueued')!.handler({ asOf: 'x' }, context())).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
