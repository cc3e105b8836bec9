// The Redis cache of archived reads (Azure Managed Redis in production). It fails open: Redis down,
// slow or holding garbage costs a bounded, fast miss and an onError report, never an exception.
import { crc32 } from 'node:zlib';
import { Redis } from 'ioredis';
import { AppError } from '../../domain/errors.ts';
import type { Cache, CacheErrorListener } from '../../ports/cache.ts';

export interface RedisCacheOptions {
  /** Told about every failed operation (for a counter and a debug log); must not throw. */
  readonly onError?: CacheErrorListener;
  /** Namespaces this service's keys in a shared Redis. */
  readonly keyPrefix?: string;
  /** The longest a single operation may wait for Redis before it counts as a miss. */
  readonly commandTimeoutMs?: number;
  /** Larger values are not cached: they would cost Redis memory and network for little gain. */
  readonly maxValueBytes?: number;
  /**
   * Entra ID authentication (Azure Managed Redis): the user name is the identity's object id and the
   * password a token, renewed before it expires (AUTH on the live connection, and for reconnects).
   */
  readonly entraAuth?: RedisEntraAuth;
}

export interface RedisEntraAuth {
  readonly username: string;
  getToken(): Promise<{ readonly token: string; readonly expiresAtMs: number }>;
}

/** A token is renewed this long before it expires. */
const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
const TOKEN_RETRY_MS = 30_000;

type Operation = Parameters<CacheErrorListener>[0];

const DEFAULT_KEY_PREFIX = 'billing-cache:';
const DEFAULT_COMMAND_TIMEOUT_MS = 250;
const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_BASE_DELAY_MS = 50;
const RECONNECT_MAX_DELAY_MS = 2_000;

// Frame: magic "BRC1" | uint32 payload length | uint32 crc32(key, payload) | payload. The key is in
// the checksum so a value copied under another key, or written by another program, reads as a miss.
const MAGIC = Buffer.from('BRC1', 'latin1');
const HEADER_BYTES = 12;

// INCR and the expiry in one atomic script, so no counter is ever left without an expiry (a process
// dying between two commands would keep it for ever). The expiry is set once, when the counter is new.
const INCREMENT_SCRIPT = `local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

export class RedisCache implements Cache {
  readonly #client: Redis;
  readonly #onError: CacheErrorListener | undefined;
  readonly #timeoutMs: number;
  readonly #maxValueBytes: number;
  #lastConnectionError: unknown;
  #connecting: Promise<boolean> | undefined;
  #closed = false;
  #tokenTimer: NodeJS.Timeout | undefined;

  /**
   * `server` is a URL, or a client the caller already holds: its connection settings (host, TLS,
   * credentials) are copied into a connection of the cache's own, so the fail-open settings below apply
   * and closing the cache leaves the caller's client open.
   */
  constructor(server: string | Redis, options: RedisCacheOptions = {}) {
    this.#onError = options.onError;
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    const settings = {
      keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: this.#timeoutMs,
      // While disconnected a command fails at once instead of queueing, and nothing that was in
      // flight is replayed later: a cache write that arrives late is worthless.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: reconnectDelayMs,
    };
    this.#client = typeof server === 'string' ? new Redis(server, settings) : server.duplicate(settings);
    // Connection errors arrive here while ioredis reconnects in the background; they are kept as
    // the cause of the next failed operation rather than reported once per reconnect attempt.
    this.#client.on('error', (error: unknown) => {
      this.#lastConnectionError = error;
    });
    const entra = options.entraAuth;
    const connect = () =>
      this.#client.connect().catch((error: unknown) => {
        this.#lastConnectionError = error;
      });
    // With Entra ID the first token comes before the connection; a store closed meanwhile never connects.
    if (entra === undefined) void connect();
    else
      void this.#renewToken(entra, false).then(() => {
        if (!this.#closed) void connect();
      });
  }

  /** Fetches a token, uses it for the next (re)connect and, when connected, re-authenticates with it. */
  async #renewToken(entra: RedisEntraAuth, authenticate: boolean): Promise<void> {
    let delayMs = TOKEN_RETRY_MS;
    try {
      const { token, expiresAtMs } = await entra.getToken();
      this.#client.options.username = entra.username;
      this.#client.options.password = token;
      if (authenticate && this.#client.status === 'ready') await this.#client.auth(entra.username, token);
      delayMs = Math.max(TOKEN_RETRY_MS, expiresAtMs - Date.now() - TOKEN_RENEW_MARGIN_MS);
    } catch (error) {
      this.#lastConnectionError = error;
      this.#onError?.('ping', error);
    } finally {
      if (!this.#closed) {
        this.#tokenTimer = setTimeout(() => void this.#renewToken(entra, true), delayMs);
        this.#tokenTimer.unref();
      }
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#run('get', async (client) => {
      const stored = await client.getBuffer(key);
      return stored === null ? undefined : decodeFrame(key, stored);
    });
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    // Oversized values and non-positive ttls are not cache material; skipping them is not a failure.
    if (value.byteLength > this.#maxValueBytes || !(ttlMs > 0)) return;
    await this.#run('set', async (client) => {
      await client.set(key, encodeFrame(key, value), 'PX', Math.ceil(ttlMs));
    });
  }

  async delete(key: string): Promise<void> {
    await this.#run('delete', async (client) => {
      await client.del(key);
    });
  }

  async increment(key: string, ttlMs: number): Promise<number | undefined> {
    // A counter without a positive expiry would live for ever: nothing is counted.
    if (!(ttlMs > 0)) return undefined;
    return this.#run('increment', async (client) => {
      const count = await client.eval(INCREMENT_SCRIPT, 1, key, Math.ceil(ttlMs));
      if (typeof count !== 'number' || !Number.isSafeInteger(count)) {
        throw new AppError('INTERNAL', `The counter under "${key}" answered ${String(count)}`);
      }
      return count;
    });
  }

  async healthy(): Promise<boolean> {
    const answer = await this.#run('ping', (client) => client.ping());
    return answer === 'PONG';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#tokenTimer);
    if (this.#client.status === 'ready') {
      try {
        // QUIT lets Redis finish what it was sent; it is bounded by the command timeout.
        await this.#client.quit();
        return;
      } catch {
        // Redis did not answer in time: drop the socket instead.
      }
    }
    this.#client.disconnect();
  }

  /** Runs one command once connected, turning every failure into `undefined` and a report. */
  async #run<T>(operation: Operation, command: (client: Redis) => Promise<T>): Promise<T | undefined> {
    if (this.#closed) return undefined;
    try {
      await this.#whenConnected();
      return await command(this.#client);
    } catch (error) {
      this.#report(operation, error);
      return undefined;
    }
  }

  // Right after start (or a reconnect) a command waits for the connection, bounded by the command
  // timeout, so the first reads are not needless misses; during an outage it fails at once.
  async #whenConnected(): Promise<void> {
    const status = this.#client.status;
    if (status === 'ready') return;
    if (status !== 'connecting' && status !== 'connect') throw this.#notConnected(status);
    this.#connecting ??= this.#nextConnectionOutcome().finally(() => {
      this.#connecting = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#timeoutMs);
    });
    const connected = await Promise.race([this.#connecting, timedOut]);
    clearTimeout(timer);
    if (!connected) throw this.#notConnected(this.#client.status);
  }

  /** One shared listener set per connection attempt, however many commands wait on it. */
  #nextConnectionOutcome(): Promise<boolean> {
    const client = this.#client;
    return new Promise<boolean>((resolve) => {
      const settle = (connected: boolean): void => {
        client.off('ready', onReady);
        client.off('close', onDown);
        client.off('end', onDown);
        resolve(connected);
      };
      const onReady = (): void => settle(true);
      const onDown = (): void => settle(false);
      client.on('ready', onReady);
      client.on('close', onDown);
      client.on('end', onDown);
    });
  }

  #notConnected(status: string): AppError {
    return new AppError('UNAVAILABLE', `Redis is not connected (${status})`, {
      cause: this.#lastConnectionError,
    });
  }

  #report(operation: Operation, error: unknown): void {
    try {
      this.#onError?.(operation, toAppError(error));
    } catch {
      // A faulty listener must not turn a fail-open miss into a failure.
    }
  }
}

/** Exponential backoff with a cap and half jitter: quick to recover, never a tight loop. */
function reconnectDelayMs(attempt: number): number {
  const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** Math.min(attempt - 1, 16));
  return Math.ceil(ceiling / 2 + (ceiling / 2) * Math.random());
}

function encodeFrame(key: string, value: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + value.byteLength);
  MAGIC.copy(frame, 0);
  frame.writeUInt32BE(value.byteLength, 4);
  frame.writeUInt32BE(crc32(value, crc32(key)), 8);
  frame.set(value, HEADER_BYTES);
  return frame;
}

function decodeFrame(key: string, frame: Buffer): Uint8Array {
  if (frame.length < HEADER_BYTES || !frame.subarray(0, 4).equals(MAGIC)) {
    throw corrupt(key, 'it is not a cache frame');
  }
  if (frame.readUInt32BE(4) !== frame.length - HEADER_BYTES) throw corrupt(key, 'its length does not match');
  // A plain Uint8Array view: callers get bytes, not a Buffer tied to this adapter.
  const payload = new Uint8Array(frame.buffer, frame.byteOffset + HEADER_BYTES, frame.length - HEADER_BYTES);
  if (frame.readUInt32BE(8) !== crc32(payload, crc32(key))) throw corrupt(key, 'its checksum does not match');
  return payload;
}

function corrupt(key: string, reason: string): AppError {
  return new AppError('INTERNAL', `The cached value under "${key}" was ignored: ${reason}`);
}

// Dependency errors are mapped here so listeners never see an ioredis error type.
function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return /timed out/i.test(message)
    ? new AppError('TIMEOUT', `Redis did not answer in time: ${message}`, { cause: error })
    : new AppError('UNAVAILABLE', `Redis failed: ${message}`, { cause: error });
}
