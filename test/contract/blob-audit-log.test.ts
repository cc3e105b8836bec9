// The append-blob audit log against the shared contract on Azurite, and its blob layout: a blob per day
// and instance, a new day's blob anchored on the head it continues, tampering caught across days.
import { tmpdir } from 'node:os';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { BlobAuditLog } from '../../src/adapters/blob/blob-audit-log.ts';
import { chainEvents, verifyChain } from '../../src/domain/audit-event.ts';
import { describeAuditLogContract, entry } from './audit-log.contract.ts';

describeAuditLogContract('append blobs (Azurite in memory)', async () => {
  const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
  const connect = () =>
    BlobAuditLog.connect({ connectionString: azurite.connectionString, containerName: 'audit' });
  const log = await connect();
  return {
    log,
    reopen: connect,
    dispose: async () => {
      await log.close();
      await azurite.stop();
    },
  };
});

describe('BlobAuditLog on Azurite', () => {
  let azurite: EmbeddedAzurite;
  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('writes a blob per day and instance, anchors each new day, and a rewritten day is caught', async () => {
    const containerName = 'audit-days';
    const log = await BlobAuditLog.connect({ connectionString: azurite.connectionString, containerName });
    const events = chainEvents('inst-1', undefined, [
      entry({ at: '2026-12-01T23:59:58.000Z' }),
      entry({ at: '2026-12-01T23:59:59.000Z' }),
      entry({ at: '2026-12-02T00:00:01.000Z' }),
    ]);
    await log.append(events);
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      containerName,
    );
    const names: string[] = [];
    for await (const item of container.listBlobsFlat())
      names.push(`${item.name} ${item.properties.blobType}`);
    expect(names).toEqual(['2026-12-01/inst-1.jsonl AppendBlob', '2026-12-02/inst-1.jsonl AppendBlob']);
    const secondDay = (
      await container.getBlobClient('2026-12-02/inst-1.jsonl').downloadToBuffer()
    ).toString();
    expect(JSON.parse(secondDay.split('\n')[0]!)).toEqual({
      anchor: { chain: 'inst-1', seq: 2, hash: events[1]!.hash },
    });
    const read = async () => {
      for await (const chain of log.chains()) if (chain.chain === 'inst-1') return chain;
      throw new Error('no chain');
    };
    const stored = await read();
    expect(verifyChain('inst-1', stored.events, stored)).toBeUndefined();

    // Someone with the account key replaces the first day without its last event (no WORM on Azurite).
    const firstDay = container.getAppendBlobClient('2026-12-01/inst-1.jsonl');
    const kept = `${JSON.stringify(events[0])}\n`;
    await firstDay.delete();
    await firstDay.create();
    await firstDay.appendBlock(kept, Buffer.byteLength(kept));
    const tampered = await read();
    expect(verifyChain('inst-1', tampered.events, tampered)).toMatchObject({ seq: 2 });
    await log.close();
  });
});
