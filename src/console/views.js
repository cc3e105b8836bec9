// The screens of the console. Each reads and acts only through the admin API (api-client.js) and
// reports every refusal with the problem's `code` and `detail` (context.fail).
import { metricValue } from './api-client.js';
import { field, formatCount, formatInstant, formatMoney, h, replaceChildren, table } from './dom.js';

const ADMIN = '/api/v1/admin';
const TIERS = [
  ['hot', 'Hot'],
  ['copied', 'Copied (in grace)'],
  ['archived', 'Archived'],
  ['stuck', 'Stuck'],
  ['failed', 'Failed (parked)'],
];
const RUN_COUNTS = ['candidates', 'copied', 'purged', 'skipped', 'failed'];
const path = (...segments) => segments.map(encodeURIComponent).join('/');

function tile(label, value, testId, tone) {
  return h(
    'div',
    { class: `tile${tone ? ` ${tone}` : ''}` },
    h('span', { class: 'tile-label', id: `${testId}-label` }, label),
    h('span', { class: 'tile-value', 'data-testid': testId, 'aria-labelledby': `${testId}-label` }, value),
  );
}

function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

/** A horizontal bar chart in SVG (attributes only: the CSP allows no inline style). */
function barChart(title, bars) {
  const max = Math.max(...bars.map((bar) => bar.value), 0.01);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const rowHeight = 22;
  svg.setAttribute('viewBox', `0 0 360 ${bars.length * rowHeight}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute(
    'aria-label',
    `${title}: ${bars.map((bar) => `${bar.label} ${formatMoney(bar.value)}`).join(', ')}`,
  );
  svg.setAttribute('class', 'chart');
  bars.forEach((bar, index) => {
    const y = index * rowHeight;
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', '0');
    label.setAttribute('y', String(y + 15));
    label.textContent = bar.label;
    const rect = document.createElementNS(ns, 'rect');
    rect.setAttribute('x', '70');
    rect.setAttribute('y', String(y + 4));
    rect.setAttribute('height', '14');
    rect.setAttribute('width', String(Math.max(1, (bar.value / max) * 200)));
    rect.setAttribute('class', `bar ${bar.tone ?? ''}`);
    const value = document.createElementNS(ns, 'text');
    value.setAttribute('x', String(76 + (bar.value / max) * 200));
    value.setAttribute('y', String(y + 15));
    value.textContent = formatMoney(bar.value);
    svg.append(label, rect, value);
  });
  return svg;
}

function button(label, onclick, attributes = {}) {
  return h('button', { type: 'button', onclick, ...attributes }, label);
}

/** Overview: tiers, backlog, last success, alerts firing, cost; refreshed by the caller's poller. */
export function overviewScreen(context) {
  const tiles = h('div', { class: 'tiles', 'aria-live': 'off' });
  const alerts = h('div');
  const cost = h('div', { class: 'cost' });
  const updated = h('span', { class: 'muted', 'data-testid': 'overview-updated' }, 'loading…');
  const element = h(
    'section',
    { 'aria-labelledby': 'overview-title' },
    h('div', { class: 'section-head' }, h('h2', { id: 'overview-title' }, 'Overview'), updated),
    tiles,
    h(
      'div',
      { class: 'columns' },
      h('div', {}, h('h3', {}, 'Alerts firing'), alerts),
      h('div', {}, h('h3', {}, 'Cost per month'), cost),
    ),
  );

  async function refreshCost() {
    const report = await context.api.json('GET', `${ADMIN}/cost-report`);
    const cheapest = [...(report.whatIf ?? [])].sort((a, b) => a.afterMonthly - b.afterMonthly)[0];
    replaceChildren(
      cost,
      h(
        'dl',
        { class: 'pairs' },
        h('dt', {}, 'Before'),
        h('dd', { 'data-testid': 'cost-before' }, formatMoney(report.before.total)),
        h('dt', {}, 'After'),
        h('dd', { 'data-testid': 'cost-after' }, formatMoney(report.after.total)),
        h('dt', {}, 'Floor'),
        h('dd', { 'data-testid': 'cost-floor' }, formatMoney(report.floor.total)),
        h('dt', {}, 'Cheapest'),
        h(
          'dd',
          { 'data-testid': 'cost-cheapest' },
          cheapest === undefined
            ? '–'
            : `archive after ${cheapest.archiveAfterMonths} month(s): ${formatMoney(cheapest.afterMonthly)}`,
        ),
      ),
      barChart('Monthly cost', [
        { label: 'Before', value: report.before.total, tone: 'before' },
        { label: 'After', value: report.after.total, tone: 'after' },
        { label: 'Floor', value: report.floor.total, tone: 'floor' },
      ]),
      h(
        'p',
        { class: 'muted' },
        `Prices of ${report.prices.asOf}, ${report.prices.region}; generated ${formatInstant(report.generatedAt)}`,
      ),
    );
  }

  async function refresh() {
    const [status, runs, alertList, metrics] = await Promise.all([
      context.api.json('GET', `${ADMIN}/archival/status`),
      context.api.json('GET', `${ADMIN}/archival/runs?limit=20`),
      context.api.json('GET', `${ADMIN}/alerts`),
      context.api
        .raw('GET', '/metrics', undefined, { accept: 'text/plain' })
        .then((response) => response.text())
        .catch(() => ''),
    ]);
    const lastSuccess = runs.items.find((run) => run.status === 'succeeded' && run.finishedAt !== null);
    const firing = alertList.alerts.filter((alert) => alert.state === 'firing');
    const backlog = metricValue(metrics, 'archival_backlog_records');
    replaceChildren(
      tiles,
      TIERS.map(([key, label]) =>
        tile(
          label,
          formatCount(status.counts[key]),
          `count-${key}`,
          (key === 'stuck' || key === 'failed') && status.counts[key] > 0 ? 'attention' : undefined,
        ),
      ),
      tile('Eligible backlog', formatCount(backlog), 'count-backlog'),
      tile('Last successful run ended', formatInstant(lastSuccess?.finishedAt), 'last-success'),
      tile(
        'Alerts firing',
        formatCount(firing.length),
        'alerts-firing',
        firing.length > 0 ? 'attention' : undefined,
      ),
    );
    replaceChildren(
      alerts,
      table(
        'Alerts firing',
        ['Alert', 'Severity', 'Since', 'Value', 'Threshold', 'Summary'],
        firing.map((alert) => [
          h('td', { 'data-testid': 'alert-name' }, alert.name),
          h('span', { class: `badge ${alert.severity}` }, alert.severity),
          formatInstant(alert.since),
          alert.value === null ? '–' : String(Math.round(alert.value * 1000) / 1000),
          String(alert.threshold),
          alert.summary,
        ]),
        { empty: 'No alert is firing.' },
      ),
    );
    updated.textContent = `updated ${new Date().toISOString().slice(11, 19)}Z · every 15 s while visible`;
  }

  return {
    element,
    async start() {
      await Promise.all([refresh(), refreshCost()]);
    },
    refresh,
    pollMs: 15_000,
  };
}

/** Runs: start one (dry run, limit, customer, as of), follow its progress, list recent ones. */
export function runsScreen(context) {
  const list = h('div');
  const progress = h('div', { 'aria-live': 'polite', 'data-testid': 'run-progress' });
  const dryRun = h('input', { type: 'checkbox', name: 'dryRun' });
  const limit = h('input', { type: 'number', min: '1', name: 'limit', inputmode: 'numeric' });
  const customer = h('input', { type: 'text', name: 'customerId', autocomplete: 'off', spellcheck: 'false' });
  const asOf = h('input', { type: 'datetime-local', name: 'asOf', step: '1' });
  let followed;
  let followTimer;

  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Start an archival run' },
    h('div', { class: 'field checkbox' }, dryRun, h('label', { for: (dryRun.id = 'run-dry') }, 'Dry run')),
    field('Limit', limit),
    field('Customer', customer),
    field('As of (UTC)', asOf),
    h('button', { type: 'submit', class: 'primary' }, 'Start run'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void context.act(async () => {
      const body = {};
      if (dryRun.checked) body.dryRun = true;
      if (limit.value !== '') body.limit = Number(limit.value);
      if (customer.value.trim() !== '') body.customerId = customer.value.trim();
      if (asOf.value !== '') body.asOf = new Date(`${asOf.value}Z`).toISOString();
      const { runId } = await context.api.json('POST', `${ADMIN}/archival/runs`, body);
      context.announce(`Run ${runId} started`);
      follow(runId);
    });
  });

  function renderRun(run) {
    const seconds = Math.max(run.durationMs / 1000, 0.001);
    const done = run.counts.copied + run.counts.purged;
    replaceChildren(
      progress,
      h(
        'h3',
        { class: 'plain' },
        'Run ',
        h('code', {}, run.runId),
        ' ',
        h('span', { 'data-testid': 'run-status' }, statusBadge(run.status)),
      ),
      h(
        'dl',
        { class: 'pairs wide' },
        RUN_COUNTS.map((key) => [
          h('dt', {}, key),
          h('dd', { 'data-testid': `run-${key}` }, formatCount(run.counts[key])),
        ]),
        h('dt', {}, 'RU spent'),
        h(
          'dd',
          { 'data-testid': 'run-ru' },
          `${formatCount(Math.round(run.requestCharge.requestUnits))}${run.requestCharge.estimated ? ' (estimated)' : ''}`,
        ),
        h('dt', {}, 'Rate'),
        h('dd', {}, `${(done / seconds).toFixed(1)} records/s`),
        h('dt', {}, 'Started'),
        h('dd', {}, formatInstant(run.startedAt)),
        h('dt', {}, 'Finished'),
        h('dd', {}, formatInstant(run.finishedAt)),
        run.stoppedBecause ? [h('dt', {}, 'Stopped because'), h('dd', {}, run.stoppedBecause)] : null,
      ),
      run.failures.length > 0
        ? [
            h('h4', {}, 'Failures'),
            h(
              'ul',
              { class: 'failures' },
              run.failures.map((failure) => h('li', {}, failure)),
            ),
          ]
        : null,
    );
  }

  function follow(runId) {
    followed = runId;
    clearTimeout(followTimer);
    const tick = () =>
      context.act(async () => {
        if (followed !== runId) return;
        const run = await context.api.json('GET', `${ADMIN}/archival/runs/${path(runId)}`);
        renderRun(run);
        if (run.status === 'running') followTimer = setTimeout(() => void tick(), 1000);
        else await refresh();
      });
    void tick();
  }

  async function refresh() {
    const runs = await context.api.json('GET', `${ADMIN}/archival/runs?limit=20`);
    replaceChildren(
      list,
      table(
        'Recent runs',
        ['Run', 'Status', 'Started', 'Finished', ...RUN_COUNTS, 'RU'],
        runs.items.map((run) => [
          button(h('code', {}, run.runId), () => follow(run.runId), {
            class: 'link',
            'aria-label': `Show run ${run.runId}`,
          }),
          statusBadge(run.status),
          formatInstant(run.startedAt),
          formatInstant(run.finishedAt),
          ...RUN_COUNTS.map((key) => h('td', { class: 'num' }, formatCount(run.counts[key]))),
          h('td', { class: 'num' }, formatCount(Math.round(run.requestCharge.requestUnits))),
        ]),
        { empty: 'No run yet.' },
      ),
    );
  }

  return {
    element: h(
      'section',
      { 'aria-labelledby': 'runs-title' },
      h('h2', { id: 'runs-title' }, 'Archival runs'),
      form,
      h(
        'p',
        { class: 'muted' },
        'A run stops at its time budget or its limit; the API offers no cancel of a running run.',
      ),
      progress,
      h('h3', {}, 'Recent runs'),
      list,
    ),
    start: refresh,
    refresh,
    pollMs: 15_000,
    stop: () => clearTimeout(followTimer),
  };
}

/** Items needing review: stuck and failed (parked) ones, with retry (unpark) and rehydrate. */
export function reviewScreen(context) {
  const stuck = h('div');
  const failed = h('div');
  const counts = h('p', { class: 'muted' });

  const itemRows = (items, retry) =>
    items.map((item) => [
      item.customerId,
      h('code', {}, item.id),
      item.state,
      h('td', { class: 'num' }, String(item.version)),
      formatInstant(item.since),
      h('td', { class: 'num' }, String(item.attempts)),
      h('td', { class: 'error-text' }, item.lastError ?? '–'),
      h(
        'td',
        { class: 'actions' },
        retry
          ? button(
              'Retry',
              () => void context.act(() => unpark({ customerId: item.customerId, recordId: item.id })),
              {
                'aria-label': `Retry ${item.id}`,
              },
            )
          : null,
        button('Rehydrate', () => void context.act(() => rehydrate(item)), {
          'aria-label': `Rehydrate ${item.id}`,
        }),
      ),
    ]);

  async function unpark(body) {
    const { unparked } = await context.api.json('POST', `${ADMIN}/archival/unpark`, body);
    context.announce(`${unparked} item(s) will be retried by the next run`);
    await refresh();
  }

  async function rehydrate(item) {
    const { result } = await context.api.json(
      'POST',
      `${ADMIN}/customers/${path(item.customerId, 'billing-records', item.id)}/rehydrate`,
    );
    context.announce(`${item.id}: ${result}`);
    await refresh();
  }

  async function refresh() {
    const status = await context.api.json('GET', `${ADMIN}/archival/status`);
    counts.textContent = `${formatCount(status.counts.stuck)} stuck, ${formatCount(status.counts.failed)} failed (parked); the lists show the first ones.`;
    const headings = ['Customer', 'Record', 'State', 'Version', 'Since', 'Attempts', 'Last error', 'Actions'];
    replaceChildren(
      stuck,
      table('Stuck items', headings, itemRows(status.stuck, false), { empty: 'Nothing is stuck.' }),
    );
    replaceChildren(
      failed,
      table('Failed items', headings, itemRows(status.failed, true), { empty: 'Nothing is parked.' }),
    );
  }

  return {
    element: h(
      'section',
      { 'aria-labelledby': 'review-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'review-title' }, 'Items needing review'),
        button('Retry all parked', () => void context.act(() => unpark({})), { class: 'primary' }),
      ),
      counts,
      h('h3', {}, 'Failed (parked after repeated failures)'),
      failed,
      h('h3', {}, 'Stuck (copies overdue for purge, or failing)'),
      stuck,
    ),
    start: refresh,
    refresh,
    pollMs: 15_000,
  };
}

/** Records: look one up, see tier, version, hold and pin; hold, pin, rehydrate; customer actions. */
export function recordsScreen(context) {
  const customer = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const recordId = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const invoice = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const result = h('div', { 'aria-live': 'polite', 'data-testid': 'record-result' });
  const holds = h('div');
  let current;

  const lookup = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Look a record up' },
    field('Customer', customer),
    field('Record id', recordId),
    field('or invoice number', invoice),
    h('button', { type: 'submit', class: 'primary' }, 'Look up'),
  );
  lookup.addEventListener('submit', (event) => {
    event.preventDefault();
    void context.act(async () => {
      const customerId = customer.value.trim();
      let id = recordId.value.trim();
      if (id === '' && invoice.value.trim() !== '') {
        const page = await context.api.json(
          'GET',
          `/api/v1/customers/${path(customerId)}/billing-records?invoiceNumber=${encodeURIComponent(invoice.value.trim())}&limit=1`,
        );
        if (page.items.length === 0)
          throw Object.assign(new Error(), {
            code: 'NOT_FOUND',
            detail: `No record of ${customerId} has invoice number ${invoice.value.trim()}`,
          });
        id = page.items[0].id;
      }
      await show(customerId, id);
    });
  });

  async function show(customerId, id) {
    const recordPath = path(customerId, 'billing-records', id);
    const [response, controls] = await Promise.all([
      context.api.raw('GET', `/api/v1/customers/${recordPath}`),
      context.api.json('GET', `${ADMIN}/customers/${recordPath}`),
    ]);
    const record = await response.json();
    current = { customerId, id };
    const reason = h('input', { type: 'text', autocomplete: 'off' });
    const holdText = (hold) => `${hold.reason} (by ${hold.setBy ?? 'unknown'}, ${formatInstant(hold.setAt)})`;
    const holdLines = [
      controls.legalHold === null ? undefined : `held: ${holdText(controls.legalHold)}`,
      controls.customerLegalHold === null
        ? undefined
        : `customer hold: ${holdText(controls.customerLegalHold)}`,
    ].filter((text) => text !== undefined);
    replaceChildren(
      result,
      h(
        'h3',
        { class: 'plain' },
        h('code', {}, record.id),
        ` · ${record.invoiceNumber} · ${record.customerId}`,
      ),
      h(
        'dl',
        { class: 'pairs wide' },
        h('dt', {}, 'Tier'),
        h('dd', { 'data-testid': 'record-tier' }, controls.tier),
        h('dt', {}, 'Served from'),
        h('dd', {}, response.headers.get('x-storage-tier') ?? '–'),
        h('dt', {}, 'Version'),
        h('dd', { 'data-testid': 'record-version' }, String(controls.version)),
        h('dt', {}, 'Issued'),
        h('dd', {}, formatInstant(record.issuedAt)),
        ...(controls.archive === null
          ? []
          : [
              h('dt', {}, 'Archived'),
              h(
                'dd',
                {},
                `${formatInstant(controls.archive.archivedAt)} · `,
                h('code', {}, controls.archive.blobPath),
              ),
            ]),
        h('dt', {}, 'Legal hold'),
        h('dd', { 'data-testid': 'record-hold' }, holdLines.length === 0 ? 'none' : holdLines.join('; ')),
        h('dt', {}, 'Pinned'),
        h('dd', { 'data-testid': 'record-pin' }, controls.pinned ? 'yes: never archived' : 'no'),
      ),
      h(
        'form',
        { class: 'inline-form', 'aria-label': 'Legal hold', onsubmit: (event) => event.preventDefault() },
        field('Hold reason', reason),
        button(
          'Set hold',
          () => void context.act(() => control('PUT', 'legal-hold', { reason: reason.value })),
        ),
        button('Clear hold', () => void context.act(() => control('DELETE', 'legal-hold'))),
        button('Pin', () => void context.act(() => control('PUT', 'pin'))),
        button('Unpin', () => void context.act(() => control('DELETE', 'pin'))),
        button('Rehydrate', () => void context.act(rehydrate)),
      ),
    );
  }

  async function control(method, what, body) {
    await context.api.json(
      method,
      `${ADMIN}/customers/${path(current.customerId, 'billing-records', current.id)}/${what}`,
      body,
    );
    context.announce(`${current.id}: ${what} ${method === 'PUT' ? 'set' : 'cleared'}`);
    await show(current.customerId, current.id);
    await refreshHolds();
  }

  async function rehydrate() {
    const { result: outcome } = await context.api.json(
      'POST',
      `${ADMIN}/customers/${path(current.customerId, 'billing-records', current.id)}/rehydrate`,
    );
    context.announce(`${current.id}: ${outcome}`);
    await show(current.customerId, current.id);
  }

  const customerAction = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const customerReason = h('input', { type: 'text', autocomplete: 'off' });
  const confirmErasure = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const rollbackDry = h('input', { type: 'checkbox' });
  const customerOf = () => {
    const id = customerAction.value.trim();
    if (id === '')
      throw Object.assign(new Error(), { code: 'VALIDATION_FAILED', detail: 'Name the customer first' });
    return id;
  };
  const customerForm = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Customer actions', onsubmit: (event) => event.preventDefault() },
    field('Customer', customerAction),
    field('Reason', customerReason),
    button(
      'Hold customer',
      () =>
        void context.act(async () => {
          await context.api.json('PUT', `${ADMIN}/customers/${path(customerOf())}/legal-hold`, {
            reason: customerReason.value,
          });
          context.announce(`${customerOf()} held`);
          await refreshHolds();
        }),
    ),
    button(
      'Release customer',
      () =>
        void context.act(async () => {
          await context.api.json('DELETE', `${ADMIN}/customers/${path(customerOf())}/legal-hold`);
          context.announce(`${customerOf()} released`);
          await refreshHolds();
        }),
    ),
    button('Export (NDJSON)', () => void context.act(() => exportCustomer(customerOf()))),
    h(
      'div',
      { class: 'field checkbox' },
      rollbackDry,
      h('label', { for: (rollbackDry.id = 'rollback-dry') }, 'Dry run'),
    ),
    button(
      'Roll back (rehydrate all)',
      () =>
        void context.act(async () => {
          const { jobId } = await context.api.json('POST', `${ADMIN}/rehydrations`, {
            customerId: customerOf(),
            dryRun: rollbackDry.checked,
          });
          context.followJob(jobId);
        }),
    ),
    field(
      'Type the customer id to erase',
      confirmErasure,
      'Erasure deletes every record of the customer, from every tier.',
    ),
    button(
      'Erase customer',
      () =>
        void context.act(async () => {
          const id = customerOf();
          if (confirmErasure.value.trim() !== id)
            throw Object.assign(new Error(), {
              code: 'CONFIRMATION_REQUIRED',
              detail: `Type ${id} in the confirmation field to erase it`,
            });
          const { jobId } = await context.api.json('POST', `${ADMIN}/customers/${path(id)}/erasure`, {});
          context.followJob(jobId);
        }),
      { class: 'danger' },
    ),
  );

  async function exportCustomer(id) {
    const response = await context.api.raw('GET', `${ADMIN}/customers/${path(id)}/export`, undefined, {
      accept: 'application/x-ndjson',
    });
    const blob = await response.blob();
    const link = h('a', { href: URL.createObjectURL(blob), download: `${id}.ndjson` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    context.announce(`Exported ${id} (${formatCount(blob.size)} bytes)`);
  }

  async function refreshHolds() {
    const { items } = await context.api.json('GET', `${ADMIN}/legal-holds`);
    replaceChildren(
      holds,
      table(
        'Legal holds',
        ['Customer', 'Record', 'Reason', 'Set by', 'Set at'],
        items.map((item) => [
          item.customerId,
          item.recordId ?? 'every record',
          item.reason,
          item.setBy,
          formatInstant(item.setAt),
        ]),
        { empty: 'No legal hold.' },
      ),
    );
  }

  return {
    element: h(
      'section',
      { 'aria-labelledby': 'records-title' },
      h('h2', { id: 'records-title' }, 'Records'),
      lookup,
      result,
      h('h3', {}, 'Customer'),
      customerForm,
      h('h3', {}, 'Legal holds'),
      holds,
    ),
    start: refreshHolds,
    refresh: refreshHolds,
    pollMs: 0,
  };
}

/** Jobs started from this tab (the API lists none), and any job by its id. */
export function jobsScreen(context, jobIds) {
  const list = h('div', { 'data-testid': 'jobs' });
  const jobId = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Follow a job' },
    field('Job id', jobId),
    h('button', { type: 'submit' }, 'Follow'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (jobId.value.trim() !== '') context.followJob(jobId.value.trim());
  });

  async function refresh() {
    const jobs = await Promise.all(
      [...jobIds].map((id) => context.api.json('GET', `${ADMIN}/jobs/${path(id)}`)),
    );
    replaceChildren(
      list,
      table(
        'Jobs',
        ['Job', 'Kind', 'Status', 'Dry run', 'Counts', 'Started', 'Finished', 'First failures'],
        jobs.map((job) => [
          h('code', {}, job.jobId),
          job.kind,
          statusBadge(job.status),
          job.dryRun ? 'yes' : 'no',
          Object.entries(job.counts)
            .map(([key, value]) => `${key} ${formatCount(value)}`)
            .join(', '),
          formatInstant(job.startedAt),
          formatInstant(job.finishedAt),
          job.failures.slice(0, 3).join('; ') || '–',
        ]),
        { empty: 'No job started in this tab yet.' },
      ),
    );
  }

  return {
    element: h(
      'section',
      { 'aria-labelledby': 'jobs-title' },
      h('h2', { id: 'jobs-title' }, 'Jobs'),
      form,
      list,
    ),
    start: refresh,
    refresh,
    pollMs: 5_000,
  };
}
