// The CLI verbs that change the archive record who ran them and why: `archive gc` and `archive unpark`
// write their audit event (actor: the operating-system user) before they act, in the embedded trail.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/adapters/sqlite/sqlite-audit-log.ts';
import type { AuditEvent } from '../../src/domain/audit-event.ts';
import { runScript } from '../support/server-process.ts';

const dataDir = join(mkdtempSync(join(tmpdir(), 'billing-cli-audit-')), 'data');
// The embedded stores (runScript drops the shell's store settings).
const env = { DATA_DIR: dataDir };

afterAll(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));

async function eventsOf(action: AuditEvent['action']): Promise<readonly AuditEvent[]> {
  const log = new SqliteAuditLog({ path: join(dataDir, 'audit.sqlite') });
  try {
    return (await log.query({ action, limit: 10 })).items;
  } finally {
    await log.close();
  }
}

describe('audited CLI verbs', () => {
  it('`archive gc` records the operator and the reason before it collects', async () => {
    const gc = await runScript('src/cli/archive.ts', ['gc', '--dry-run', '--reason', 'weekly tidy'], env);
    expect(gc.code, gc.stderr).toBe(0);
    const [event] = await eventsOf('archive.gc');
    expect(event).toMatchObject({
      actor: { sub: `os:${userInfo().username}`, roles: ['cli'] },
      status: 202,
      reason: 'weekly tidy',
      customerId: null,
    });
  });

  it('`archive unpark` records the operator, the record and the reason', async () => {
    const unpark = await runScript(
      'src/cli/archive.ts',
      ['unpark', 'cust-7', 'rec-7', '--reason', 'Blob outage over'],
      env,
    );
    expect(unpark.code, unpark.stderr).toBe(0);
    expect(unpark.stdout).toContain('unparked 0 item(s)');
    const [event] = await eventsOf('archival.unpark');
    expect(event).toMatchObject({
      actor: { sub: `os:${userInfo().username}`, roles: ['cli'] },
      customerId: 'cust-7',
      recordId: 'rec-7',
      reason: 'Blob outage over',
    });
  });

  it('writes no event for an unpark it refuses (a customer without a record)', async () => {
    const refused = await runScript('src/cli/archive.ts', ['unpark', 'cust-8'], env);
    expect(refused.code).toBe(2);
    expect((await eventsOf('archival.unpark')).map((event) => event.customerId)).not.toContain('cust-8');
  });
});
