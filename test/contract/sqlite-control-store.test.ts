// The SQLite control store (the embedded default) against the shared contract, leases expiring on a
// manual clock; then two stores on one file, as the server and the CLI share the data folder.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteControlStore } from '../../src/adapters/sqlite/sqlite-control-store.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { describeControlStoreContract } from './archival-control-store.contract.ts';

const STORE_MODULE = fileURLToPath(
  new URL('../../src/adapters/sqlite/sqlite-control-store.ts', import.meta.url),
);

describeControlStoreContract(
  'sqlite (file)',
  () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-control-contract-'));
    const clock = new ManualClock();
    const store = new SqliteControlStore({ path: join(folder, 'control.sqlite'), clock });
    return Promise.resolve({
      store,
      advanceClock: (ms: number) => clock.advance(ms),
      dispose: async () => {
        await store.close();
        rmSync(folder, { recursive: true, force: true });
      },
    });
  },
  { ownsClock: true },
);

describe('SqliteControlStore', () => {
  it('keeps a second worker (another connection to the same file) off a leased document', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-control-'));
    const path = join(folder, 'control.sqlite');
    const mine = new SqliteControlStore({ path });
    const theirs = new SqliteControlStore({ path });
    const lease = (await mine.acquireLease('slices/2024-07', 15))!;
    expect(await theirs.acquireLease('slices/2024-07', 15)).toBeUndefined();
    await expect(theirs.write('slices/2024-07', 'theirs', {})).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    await mine.releaseLease(lease);
    expect(await theirs.acquireLease('slices/2024-07', 15)).toBeDefined();
    await mine.close();
    await theirs.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('refuses a value that is not JSON (INTERNAL), and every call once closed (UNAVAILABLE)', async () => {
    const store = new SqliteControlStore({ path: ':memory:' });
    await expect(store.write('doc', undefined, {})).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await store.list('')).toEqual([]);
    await store.close();
    await expect(store.read('doc')).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false });
  });
});

describe('SqliteControlStore leases of a dead process', () => {
  it('lets another process take at once a lease whose holder was SIGKILLed', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-control-dead-'));
    const path = join(folder, 'control.sqlite');
    // A real process takes a 60 s lease, says so, and is killed while it holds it.
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        '--input-type=module',
        '-e',
        `import { SqliteControlStore } from ${JSON.stringify(pathToFileURL(STORE_MODULE).href)};
         const store = new SqliteControlStore({ path: ${JSON.stringify(path)} });
         const lease = await store.acquireLease('slices/2024-05', 60);
         process.stdout.write(lease ? 'leased\\n' : 'refused\\n');
         setInterval(() => undefined, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    expect(line).toBe('leased');
    const store = new SqliteControlStore({ path });
    // While the holder runs, its lease keeps others off.
    expect(await store.acquireLease('slices/2024-05', 15)).toBeUndefined();
    child.kill('SIGKILL');
    await once(child, 'exit');
    const lease = await store.acquireLease('slices/2024-05', 15);
    expect(lease).toBeDefined();
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  });
});
