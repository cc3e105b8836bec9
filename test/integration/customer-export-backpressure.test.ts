// The export waits on its client (issue 14): a client that stops reading stops the server reading records
// too, instead of the server buffering the whole export. A real server on a socket, composed as `npm start`
// composes it (the embedded default: SQLite and the file archive), with the record store's reads counted
// through the composition's own wrapPorts hook around the real adapter; the client is node:http, paused.
// The socket is a Unix one: its kernel buffers are fixed (~200 KB), where loopback TCP's grow to tens of
// MB and would hide a server that buffers the export in an export a test can afford.
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { type OpenedServices, openServices } from '../../src/composition/open-services.ts';
import { loadConfig } from '../../src/config/app-config.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import { makeRecord } from '../support/record-fixtures.ts';

const CUSTOMER = 'cust-slow-reader';
const RECORDS = 80;
/** Line items per record: ~150 KB a record, 12 MB in all, many times what the socket buffers hold. */
const LINE_ITEMS = 1_000;
/**
 * How far the server may read ahead of a client that stopped: the kernel's buffer of the socket (~200 KB,
 * 2 records), the client's and the server socket's own (a record each at most), the body stream's (one
 * record: Readable.from's high-water mark) and the record in hand. 4 measured; without back-pressure
 * (the body gathered before it is sent) 75 of the 80.
 */
const MAX_AHEAD = 12;

/** The record store's reads of this customer's records once counting is on, as they start and as they end. */
class ReadCount {
  counting = false;
  started = 0;
  settled = 0;

  wrap(store: RecordStore): RecordStore {
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (property !== 'get') return method;
        return async (...args: unknown[]) => {
          const counted = this.counting && (args[0] as { customerId: string }).customerId === CUSTOMER;
          if (counted) this.started += 1;
          try {
            return await method(...args);
          } finally {
            if (counted) this.settled += 1;
          }
        };
      },
    });
  }
}

/** Resolves once `condition` holds (polled; nothing is asserted about how long it takes). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A client reading NDJSON line by line, that can stop reading (pause) and go on. */
class LineClient {
  readonly lines: string[] = [];
  #pending = '';
  #ended = false;
  #pauseAt = Number.POSITIVE_INFINITY;

  readonly response: IncomingMessage;

  constructor(response: IncomingMessage) {
    this.response = response;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.#pending += chunk;
      for (let end = this.#pending.indexOf('\n'); end >= 0; end = this.#pending.indexOf('\n')) {
        this.lines.push(this.#pending.slice(0, end));
        this.#pending = this.#pending.slice(end + 1);
        if (this.lines.length >= this.#pauseAt) response.pause();
      }
    });
    response.on('end', () => (this.#ended = true));
  }

  /** Reads until `count` lines have arrived, then stops reading from the socket. */
  async readUpTo(count: number): Promise<void> {
    this.#pauseAt = count;
    this.response.resume();
    await until(() => this.lines.length >= count || this.#ended);
  }

  async readToEnd(): Promise<string[]> {
    this.#pauseAt = Number.POSITIVE_INFINITY;
    this.response.resume();
    await until(() => this.#ended);
    return this.lines;
  }
}

describe('customer export back-pressure', () => {
  let folder: string;
  let services: OpenedServices;
  let app: FastifyInstance;
  let token: string;
  let socketPath: string;
  const reads = new ReadCount();
  /** The server's side of each connection, and the streamed body of each export it sends. */
  const connections: Socket[] = [];
  const bodies: Readable[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'billing-export-backpressure-'));
    const config = loadConfig({ DATA_DIR: folder, ARCHIVE_GRACE_PERIOD: 'P0D' }, folder);
    const logger = pino({ level: 'silent' });
    services = await openServices(config, logger, {
      wrapPorts: (ports) => ({ ...ports, store: reads.wrap(ports.store) }),
    });
    // A day apart from 2020-01-01: the first half is archived (read back from the file archive), the rest hot.
    const day = 24 * 3600_000;
    const records = Array.from({ length: RECORDS }, (_, index) => {
      const issuedAt = new Date(Date.UTC(2020, 0, 1) + index * day).toISOString();
      return makeRecord({
        id: `r-${String(index).padStart(4, '0')}`,
        customerId: CUSTOMER,
        issuedAt,
        createdAt: issuedAt,
        updatedAt: issuedAt,
        lineItems: Array.from({ length: LINE_ITEMS }, (_item, line) => ({
          sku: `sku-${line}`,
          description: `Line ${line} of record ${index}: metered usage for the period, itemised`,
          quantity: 1 + line,
          unitPriceMinor: 7,
          amountMinor: 7 * (1 + line),
        })),
      });
    });
    await services.records.importRecords(records);
    const report = await services.archival.run({ asOf: '2020-05-15T00:00:00.000Z' });
    expect(report.status).toBe('succeeded');
    const tiers = await services.records.countByTier();
    expect(tiers.archived).toBeGreaterThan(RECORDS / 3);
    expect(tiers.hot).toBeGreaterThan(0);

    app = await buildHttpServer({ ...services.application, logger, metrics: services.httpMetrics });
    app.server.on('connection', (socket: Socket) => connections.push(socket));
    app.addHook('onSend', async (_request, _reply, payload) => {
      if (payload instanceof Readable) bodies.push(payload);
      return payload;
    });
    socketPath = join(folder, 'api.sock');
    await app.listen({ path: socketPath });
    if (config.auth.kind !== 'dev-keys') throw new Error('the embedded default signs dev tokens');
    const keys = await loadOrCreateDevKeyPair(config.auth.folder);
    token = await keys.sign({
      subject: 'export-test',
      roles: ['Billing.Read', 'Billing.Admin'],
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      expiresInSeconds: 600,
    });
  });

  afterAll(async () => {
    await app?.close();
    await services?.close();
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  });

  /** The server has stopped reading: its socket is full, the body's buffer too, and no read is running. */
  const stalled = (): boolean => {
    const body = bodies.at(-1);
    return (
      body !== undefined &&
      connections.some((socket) => socket.writableNeedDrain) &&
      body.readableLength >= body.readableHighWaterMark &&
      reads.started === reads.settled
    );
  };

  const requestExport = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(
        {
          socketPath,
          path: `/api/v1/admin/customers/${CUSTOMER}/export`,
          headers: { authorization: `Bearer ${token}` },
        },
        resolve,
      ).on('error', reject);
    });

  it('reads records from the stores only a bounded number ahead of a client that stopped reading', async () => {
    // The archival run read the records too: only the export's reads count.
    reads.counting = true;
    const response = await requestExport();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const client = new LineClient(response);
    try {
      // The client reads a few records and stops; the server fills the sockets' buffers and stops too.
      await client.readUpTo(5);
      await until(stalled);
      const aheadAtStart = reads.settled - client.lines.length;
      expect(aheadAtStart).toBeLessThanOrEqual(MAX_AHEAD);
      expect(reads.settled).toBeLessThan(RECORDS);

      // Halfway, the same: it goes on only as far as the client takes it.
      await client.readUpTo(RECORDS / 2);
      await until(stalled);
      const aheadHalfway = reads.settled - client.lines.length;
      expect(aheadHalfway).toBeLessThanOrEqual(MAX_AHEAD);
      expect(reads.settled).toBeLessThan(RECORDS);

      // Then the client reads on: every record arrives, once, in order.
      const lines = await client.readToEnd();
      expect(lines).toHaveLength(RECORDS);
      expect(lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(
        Array.from({ length: RECORDS }, (_, index) => `r-${String(index).padStart(4, '0')}`),
      );
      expect(reads.settled).toBe(RECORDS);
    } finally {
      response.destroy();
    }
  });

  it('stops reading when the client goes away mid-way', async () => {
    reads.counting = true;
    const before = reads.settled;
    const response = await requestExport();
    const client = new LineClient(response);
    await client.readUpTo(10);
    response.destroy();
    // The body stream is destroyed with the connection, which closes the export's generator: no more reads.
    await until(() => bodies.at(-1)?.destroyed === true && reads.started === reads.settled);
    expect(reads.settled - before).toBeGreaterThanOrEqual(10);
    expect(reads.settled - before).toBeLessThanOrEqual(10 + MAX_AHEAD);
  });
});
