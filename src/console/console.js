// The console's entry: sign-in, navigation between screens, polling (paused while the tab is hidden),
// and one place where every failed action is shown with its problem `code` and `detail`.
import { createApiClient } from './api-client.js';
import { field, h, replaceChildren } from './dom.js';
import { createEntraSignIn, createSession, devSignIn } from './sign-in.js';
import { jobsScreen, overviewScreen, recordsScreen, reviewScreen, runsScreen } from './views.js';

const JOBS_KEY = 'billing-console.jobs';
const main = document.getElementById('main');
const problemBanner = document.getElementById('problem');
const roleMessage = document.getElementById('role-message');
const who = document.getElementById('who');
const nav = document.getElementById('nav');
const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
document.body.append(status);

const session = createSession();
const api = createApiClient(() => session.token());
const jobIds = new Set(JSON.parse(sessionStorage.getItem(JOBS_KEY) ?? '[]'));

function showProblem(error) {
  const code = error.code ?? 'ERROR';
  const detail = error.detail ?? error.message ?? String(error);
  replaceChildren(
    problemBanner,
    h('strong', { 'data-testid': 'problem-code' }, code),
    ' ',
    h('span', { 'data-testid': 'problem-detail' }, detail),
    error.errors?.length > 0
      ? h(
          'ul',
          { 'data-testid': 'problem-fields' },
          error.errors.map((fieldError) => h('li', {}, `${fieldError.field}: ${fieldError.message}`)),
        )
      : null,
    error.status === 401 ? ' Sign in again.' : null,
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => (problemBanner.hidden = true),
        'aria-label': 'Dismiss the problem',
      },
      '×',
    ),
  );
  problemBanner.hidden = false;
}

const context = {
  api,
  /** Runs an action; a failure is shown, never swallowed. */
  async act(action) {
    problemBanner.hidden = true;
    try {
      await action();
    } catch (error) {
      showProblem(error);
    }
  },
  announce(text) {
    status.textContent = text;
  },
  followJob(jobId) {
    jobIds.add(jobId);
    sessionStorage.setItem(JOBS_KEY, JSON.stringify([...jobIds]));
    // A new hash shows the jobs screen (hashchange); already there, it is drawn again with the new job.
    if (location.hash === '#jobs') void showScreen();
    else location.hash = '#jobs';
  },
};

const screens = {
  overview: () => overviewScreen(context),
  runs: () => runsScreen(context),
  review: () => reviewScreen(context),
  records: () => recordsScreen(context),
  jobs: () => jobsScreen(context, jobIds),
};
let active;
let pollTimer;

function schedulePoll() {
  clearTimeout(pollTimer);
  if (active === undefined || !active.pollMs || document.hidden) return;
  pollTimer = setTimeout(() => {
    void context.act(active.refresh).finally(schedulePoll);
  }, active.pollMs);
}

document.addEventListener('visibilitychange', () => {
  // Hidden: no polling at all. Visible again: fresh numbers at once, then the usual rate.
  if (document.hidden) clearTimeout(pollTimer);
  else if (active !== undefined && active.pollMs) void context.act(active.refresh).finally(schedulePoll);
});

async function showScreen() {
  const name = location.hash.slice(1) in screens ? location.hash.slice(1) : 'overview';
  active?.stop?.();
  clearTimeout(pollTimer);
  active = screens[name]();
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.screen === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  replaceChildren(main, active.element);
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Billing archive operations`;
  await context.act(active.start);
  schedulePoll();
}

function signInScreen(settings, entra) {
  const pasted = h('textarea', { rows: '3', autocomplete: 'off', spellcheck: 'false' });
  const role = h(
    'select',
    {},
    h('option', { value: 'admin' }, 'Operator (Billing.Read, Billing.Write, Billing.Admin)'),
    h('option', { value: 'reader' }, 'Reader (Billing.Read only)'),
  );
  const pasteForm = h(
    'form',
    { 'aria-label': 'Paste a token' },
    field('Bearer token', pasted, 'Kept in this tab only (sessionStorage), never in the URL.'),
    h('button', { type: 'submit' }, 'Use this token'),
  );
  pasteForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (pasted.value.trim() === '') showProblem({ code: 'VALIDATION_FAILED', detail: 'Paste a token first' });
    else session.signIn(pasted.value);
  });
  const devForm = h(
    'form',
    { 'aria-label': 'Dev sign-in' },
    field(
      'Sign in as',
      role,
      'Embedded mode on this machine only: a one-hour token signed by the dev key pair.',
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Dev sign-in'),
  );
  devForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void context.act(async () => {
      const roles =
        role.value === 'admin' ? ['Billing.Read', 'Billing.Write', 'Billing.Admin'] : ['Billing.Read'];
      session.signIn(await devSignIn(roles));
    });
  });
  return h(
    'section',
    { 'aria-labelledby': 'sign-in-title', class: 'sign-in' },
    h('h2', { id: 'sign-in-title' }, 'Sign in'),
    entra
      ? h(
          'div',
          { class: 'card' },
          h(
            'button',
            { type: 'button', class: 'primary', onclick: () => void context.act(entra.signIn) },
            'Sign in with Microsoft Entra ID',
          ),
        )
      : null,
    settings.devSignIn ? h('div', { class: 'card' }, devForm) : null,
    h('div', { class: 'card' }, pasteForm),
  );
}

async function render(settings, entra) {
  const claims = session.claims();
  clearTimeout(pollTimer);
  active?.stop?.();
  active = undefined;
  if (session.token() === undefined) {
    nav.hidden = true;
    roleMessage.hidden = true;
    replaceChildren(who);
    replaceChildren(main, signInScreen(settings, entra));
    return;
  }
  const roles = Array.isArray(claims?.roles) ? claims.roles : [];
  replaceChildren(
    who,
    h('span', { 'data-testid': 'who' }, `${claims?.sub ?? 'unknown'} · ${roles.join(', ') || 'no roles'}`),
    h('button', { type: 'button', class: 'link', onclick: () => session.signOut() }, 'Sign out'),
  );
  if (!session.isAdmin()) {
    nav.hidden = true;
    roleMessage.textContent =
      `You are signed in as ${claims?.sub ?? 'an unknown user'} without the Billing.Admin role (roles: ${roles.join(', ') || 'none'}). ` +
      'The operations console shows archival, holds, costs and alerts only to Billing.Admin: ask for that role, or sign out and sign in as an operator.';
    roleMessage.hidden = false;
    replaceChildren(main);
    return;
  }
  roleMessage.hidden = true;
  nav.hidden = false;
  await showScreen();
}

async function start() {
  let settings;
  try {
    settings = await (await fetch('/console/settings.json', { credentials: 'omit' })).json();
  } catch (error) {
    showProblem({ code: 'UNAVAILABLE', detail: `The console settings did not load: ${error.message}` });
    return;
  }
  let entra;
  if (settings.entra) {
    try {
      entra = await createEntraSignIn(settings.entra, session);
    } catch (error) {
      showProblem({ code: error.errorCode ?? 'SIGN_IN_FAILED', detail: error.message });
    }
  }
  session.onChange(() => void render(settings, entra));
  window.addEventListener('hashchange', () => {
    // Keyboard and screen-reader users land on the new screen, not on the link they used.
    if (session.isAdmin()) void showScreen().then(() => main.focus({ preventScroll: true }));
  });
  await render(settings, entra);
}

void start();
