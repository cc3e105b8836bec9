// The operations console in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the API started here on loopback over real in-memory adapters and seeded records. Each
// screen is saved as a picture in .data/console-screenshots/ (not committed).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '../support/console-server.ts';
import { PARKED_ERROR, parkCopyOf } from '../support/parked-item.ts';
import { makeInput } from '../support/record-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
/** As on this machine's kind: no sandbox as root, and no background calls to Google's hosts. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = resolve(import.meta.dirname, '../../.data/console-screenshots');
const ADMIN = ['Billing.Read', 'Billing.Write', 'Billing.Admin'];
/** axe-core, the accessibility rule checker, evaluated in the page (DevTools evaluation is outside the CSP). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DAY = 24 * 3600_000;
const MINUTE = 60_000;

let server: ConsoleServer;
let baseUrl: string;
let browser: Browser;
let page: Page;
const cspViolations: string[] = [];
/** Uncaught errors of the page's scripts, and what the browser logged as errors. */
const pageErrors: string[] = [];

async function api(method: string, path: string, body?: unknown, roles = ADMIN): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await server.test.token(roles)}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function seed(customerId: string, count: number, ageDays: number): Promise<void> {
  const { test } = server;
  const issuedAt = new Date(test.clock.now().getTime() - ageDays * DAY).toISOString();
  for (let index = 1; index <= count; index++)
    await test.wired.records.create(customerId, makeInput({ id: `${customerId}-${index}`, issuedAt }));
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** WCAG 2 A and AA violations axe-core finds on the page as it stands, as `rule: targets`. */
async function accessibilityViolations(): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // A string, evaluated in the page (this file is typed for Node, not the DOM).
  const violations = (await page.evaluate(`axe
    .run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'] })
    .then((result) => result.violations.map(
      (violation) => violation.id + ': ' + violation.nodes.map((node) => node.target.join(' ')).join(', '),
    ))`)) as string[];
  return violations;
}

async function signIn(as: 'admin' | 'reader'): Promise<void> {
  await page.goto(`${baseUrl}/console`);
  await page.getByLabel('Sign in as').selectOption(as);
  await page.getByRole('button', { name: 'Dev sign-in' }).click();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: apt-get install -y chromium (as root), then run this test again`,
    );
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startConsoleServer();
  baseUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
  // Seeded: archived records (a run before the console opens), eligible hot ones, recent ones, a parked item.
  await seed('cust-old', 6, 200);
  await seed('cust-due', 4, 200);
  await seed('cust-new', 3, 10);
  await seed('cust-park', 1, 200);
  server.test.clock.advance(2 * DAY); // past the cool-down of a record's last write
  expect((await server.test.archival.run({ customerId: 'cust-old' })).counts.purged).toBe(6);
  await parkCopyOf(server.test, { customerId: 'cust-park', id: 'cust-park-1' }, server.test.clock.now());
  await server.test.wired.refreshArchivalGauges();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
}, 120_000);

// A failed test leaves a picture of what the page showed.
afterEach(async (context) => {
  if (context.task.result?.state === 'fail' && page !== undefined)
    await screenshot(`failed-${context.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => undefined);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the operations console in Chromium', () => {
  it('is served with its CSP, and offers the dev sign-in and a paste-a-token field', async () => {
    const response = await page.goto(`${baseUrl}/console`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    await expect.poll(() => page.getByRole('button', { name: 'Dev sign-in' }).count()).toBe(1);
    expect(await page.getByLabel('Bearer token').count()).toBe(1);
    await screenshot('sign-in');
  });

  it('tells a user without Billing.Admin what is missing, and shows none of the admin screens', async () => {
    await signIn('reader');
    const message = page.locator('#role-message');
    await message.waitFor({ state: 'visible' });
    expect(await message.textContent()).toMatch(/without the Billing\.Admin role/);
    expect(await page.locator('#nav').isVisible()).toBe(false);
    await screenshot('no-admin-role');
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('shows on the overview the numbers the API answers', async () => {
    await signIn('admin');
    await page.getByTestId('count-hot').waitFor();
    await expect.poll(() => page.getByTestId('count-archived').textContent()).not.toBe('–');
    const status = (await (await api('GET', '/api/v1/admin/archival/status')).json()) as {
      counts: Record<string, number>;
    };
    expect(status.counts).toMatchObject({ archived: 6, failed: 1 });
    for (const [tier, count] of Object.entries(status.counts))
      expect(await page.getByTestId(`count-${tier}`).textContent(), tier).toBe(count.toLocaleString('en-US'));
    const runs = (await (await api('GET', '/api/v1/admin/archival/runs')).json()) as {
      items: Array<{ finishedAt: string }>;
    };
    expect(await page.getByTestId('last-success').textContent()).toBe(
      `${runs.items[0]!.finishedAt.slice(0, 19).replace('T', ' ')}Z`,
    );
    const cost = (await (await api('GET', '/api/v1/admin/cost-report')).json()) as {
      before: { total: number };
      after: { total: number };
    };
    const usd = (value: number) =>
      new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(value);
    await expect.poll(() => page.getByTestId('cost-before').textContent()).toBe(usd(cost.before.total));
    expect(await page.getByTestId('cost-after').textContent()).toBe(usd(cost.after.total));
    await screenshot('overview');
  });

  it('shows an alert that fires in the API, refreshed without a reload', async () => {
    const { alerting, clock } = server.test;
    // ArchivalItemsParked: the parked item, held past the rule's 15-minute window.
    await alerting.evaluate();
    clock.advance(16 * MINUTE);
    await alerting.evaluate();
    const alerts = (await (await api('GET', '/api/v1/admin/alerts')).json()) as {
      alerts: Array<{ name: string; state: string }>;
    };
    expect(alerts.alerts.filter((alert) => alert.state === 'firing').map((alert) => alert.name)).toContain(
      'ArchivalItemsParked',
    );
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await page
      .getByTestId('alert-name')
      .filter({ hasText: 'ArchivalItemsParked' })
      .waitFor({ timeout: 45_000 });
    expect(navigations).toEqual([]);
    expect(Number(await page.getByTestId('alerts-firing').textContent())).toBeGreaterThan(0);
    await screenshot('overview-alert-firing');
  });

  it('retries a parked item from the review screen', async () => {
    await page.getByRole('link', { name: 'Needs review' }).click();
    const row = page.getByRole('row').filter({ hasText: 'cust-park-1' });
    await row.waitFor();
    expect(await row.textContent()).toContain(PARKED_ERROR);
    await screenshot('review');
    await row.getByRole('button', { name: 'Retry cust-park-1' }).click();
    await page.getByText('Nothing is parked.').waitFor();
    const status = (await (await api('GET', '/api/v1/admin/archival/status')).json()) as {
      counts: { failed: number };
    };
    expect(status.counts.failed).toBe(0);
    const entry = await server.test.ledger.get({ customerId: 'cust-park', id: 'cust-park-1' });
    expect(entry?.entry.attempts).toBe(0);
    expect(entry?.entry.parked).not.toBe(true);
  });

  it('starts a run that completes, and shows its progress', async () => {
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByLabel('Customer').fill('cust-due');
    await page.getByRole('button', { name: 'Start run' }).click();
    await expect
      .poll(() => page.getByTestId('run-status').textContent(), { timeout: 60_000 })
      .toBe('succeeded');
    expect(await page.getByTestId('run-copied').textContent()).toBe('4');
    expect(await page.getByTestId('run-purged').textContent()).toBe('4');
    const runs = (await (await api('GET', '/api/v1/admin/archival/runs?limit=1')).json()) as {
      items: Array<{ status: string; counts: { purged: number }; requestCharge: { requestUnits: number } }>;
    };
    expect(runs.items[0]).toMatchObject({ status: 'succeeded', counts: { purged: 4 } });
    expect(await page.getByTestId('run-ru').textContent()).toContain(
      Math.round(runs.items[0]!.requestCharge.requestUnits).toLocaleString('en-US'),
    );
    await screenshot('runs');
  });

  it('sets a legal hold that makes a PUT answer 409, and shows a failed action’s code and detail', async () => {
    await page.getByRole('link', { name: 'Records' }).click();
    const lookup = page.getByRole('form', { name: 'Look a record up' });
    await lookup.getByLabel('Customer').fill('cust-new');
    await lookup.getByLabel('Record id').fill('cust-new-2');
    await lookup.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByTestId('record-tier').textContent()).toBe('hot');
    // No reason: the API refuses, and the console says why with the problem's code and detail.
    await page.getByRole('button', { name: 'Set hold' }).click();
    await expect.poll(() => page.getByTestId('problem-code').textContent()).toBe('VALIDATION_FAILED');
    expect(await page.getByTestId('problem-detail').textContent()).toMatch(/invalid field/);
    expect(await page.getByTestId('problem-fields').textContent()).toMatch(/reason/);
    await screenshot('records-problem');
    await page.getByLabel('Hold reason').fill('litigation 2026-42');
    await page.getByRole('button', { name: 'Set hold' }).click();
    await expect.poll(() => page.getByTestId('record-hold').textContent()).toContain('litigation 2026-42');
    expect(await page.locator('#problem').isVisible()).toBe(false);
    const record = (await (
      await api('GET', '/api/v1/customers/cust-new/billing-records/cust-new-2')
    ).json()) as Record<string, unknown>;
    const { version: _v, createdAt: _c, updatedAt: _u, ...body } = record;
    const put = await api('PUT', '/api/v1/customers/cust-new/billing-records/cust-new-2', body);
    expect(put.status).toBe(409);
    expect(await put.json()).toMatchObject({ code: 'LEGAL_HOLD' });
    await screenshot('records');
  });

  it('shows a record’s pin and holds as the API holds them, and clears a pin from the console', async () => {
    // Pinned through the API, not the console: what the console shows is read back, not remembered.
    expect((await api('PUT', '/api/v1/admin/customers/cust-new/billing-records/cust-new-3/pin')).status).toBe(
      200,
    );
    const lookup = page.getByRole('form', { name: 'Look a record up' });
    await lookup.getByLabel('Customer').fill('cust-new');
    await lookup.getByLabel('Record id').fill('cust-new-3');
    await lookup.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByTestId('record-pin').textContent()).toBe('yes: never archived');
    await page.getByRole('button', { name: 'Unpin' }).click();
    await expect.poll(() => page.getByTestId('record-pin').textContent()).toBe('no');
    const controls = (await (
      await api('GET', '/api/v1/admin/customers/cust-new/billing-records/cust-new-3')
    ).json()) as Record<string, unknown>;
    expect(controls).toMatchObject({ pinned: false, tier: 'hot' });
    // An archived record, found by its invoice number, under its customer's hold.
    const archived = (await (
      await api('GET', '/api/v1/customers/cust-old/billing-records/cust-old-4')
    ).json()) as { invoiceNumber: string; version: number };
    expect(
      (await api('PUT', '/api/v1/admin/customers/cust-old/legal-hold', { reason: 'tax audit 2026' })).status,
    ).toBe(200);
    await lookup.getByLabel('Record id').fill('');
    await lookup.getByLabel('Customer').fill('cust-old');
    await lookup.getByLabel('or invoice number').fill(archived.invoiceNumber);
    await lookup.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByTestId('record-tier').textContent()).toBe('archived');
    expect(await page.getByTestId('record-version').textContent()).toBe(String(archived.version));
    expect(await page.getByTestId('record-hold').textContent()).toContain('customer hold: tax audit 2026');
    expect(await page.getByTestId('record-pin').textContent()).toBe('no');
    await screenshot('records-archived');
    expect((await api('DELETE', '/api/v1/admin/customers/cust-old/legal-hold')).status).toBe(204);
    await lookup.getByLabel('or invoice number').fill('');
  });

  it('asks for a typed confirmation before an erasure, and follows a rollback job', async () => {
    const customer = page.getByRole('form', { name: 'Customer actions' });
    await customer.getByLabel('Customer', { exact: true }).fill('cust-old');
    await customer.getByLabel('Type the customer id to erase').fill('cust-ol');
    await customer.getByRole('button', { name: 'Erase customer' }).click();
    await expect.poll(() => page.getByTestId('problem-code').textContent()).toBe('CONFIRMATION_REQUIRED');
    expect((await server.test.store.get({ customerId: 'cust-old', id: 'cust-old-1' })) !== undefined).toBe(
      true,
    );
    await customer.getByLabel('Dry run').check();
    await customer.getByRole('button', { name: 'Roll back (rehydrate all)' }).click();
    const job = page.getByTestId('jobs').getByRole('row').nth(1);
    await expect.poll(() => job.textContent(), { timeout: 60_000 }).toMatch(/succeeded/);
    expect(await job.textContent()).toMatch(/candidates 6/);
    expect(await page.locator('#main').evaluate((main) => main.ownerDocument.activeElement === main)).toBe(
      true,
    );
    await screenshot('jobs');
  });

  it('passes axe-core’s WCAG 2 A/AA rules on every screen, and is driven by the keyboard', async () => {
    const found: string[] = [];
    for (const [screen, name] of [
      ['overview', 'Overview'],
      ['runs', 'Runs'],
      ['review', 'Needs review'],
      ['records', 'Records'],
      ['jobs', 'Jobs'],
    ] as const) {
      // Keyboard only: focus the screen's link and press Enter.
      await page.getByRole('link', { name, exact: true }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.evaluate('location.hash')).toBe(`#${screen}`);
      await expect.poll(() => page.locator('#main h2').first().textContent()).toBeTruthy();
      found.push(...(await accessibilityViolations()).map((violation) => `${screen} ${violation}`));
    }
    // The skip link takes keyboard users past the navigation.
    await page.keyboard.press('Home');
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate('location.hash')).toBe('#main');
    expect(found).toEqual([]);
  });

  it('loaded nothing the CSP refused, and its scripts threw nothing', () => {
    expect(cspViolations).toEqual([]);
    // The failed actions above answered 4xx on purpose: the browser logs those loads, nothing else.
    expect(pageErrors.filter((text) => !/status of 4\d\d/.test(text))).toEqual([]);
  });
});
