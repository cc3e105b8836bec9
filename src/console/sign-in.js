// Who is signed in: a bearer token kept in this tab's sessionStorage (never in a URL or localStorage),
// from Entra ID (MSAL, authorization code + PKCE), the embedded dev sign-in, or pasted by the operator.

const STORAGE_KEY = 'billing-console.token';
const ADMIN_ROLE = 'Billing.Admin';

/** The claims of a JWT, read for display only: the API verifies the token on every call. */
export function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '=')));
  } catch {
    return undefined;
  }
}

export function createSession() {
  let token = sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  const listeners = new Set();
  const notify = () => listeners.forEach((listener) => listener());
  return {
    token: () => token,
    claims: () => (token === undefined ? undefined : claimsOf(token)),
    isAdmin() {
      const roles = this.claims()?.roles;
      return Array.isArray(roles) && roles.includes(ADMIN_ROLE);
    },
    signIn(newToken) {
      token = newToken.trim();
      sessionStorage.setItem(STORAGE_KEY, token);
      notify();
    },
    signOut() {
      token = undefined;
      sessionStorage.removeItem(STORAGE_KEY);
      notify();
    },
    onChange(listener) {
      listeners.add(listener);
    },
  };
}

/** The dev sign-in of the embedded default (loopback only): the server mints a dev token. */
export async function devSignIn(roles) {
  const response = await fetch('/console/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ roles }),
    credentials: 'omit',
  });
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.detail), { code: body.code, detail: body.detail });
  return body.token;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/** MSAL with the console's Entra ID app: the redirect flow (auth code + PKCE), tokens in sessionStorage. */
export async function createEntraSignIn(entra, session) {
  await loadScript('/console/vendor/msal-browser.js');
  const client = new globalThis.msal.PublicClientApplication({
    auth: {
      clientId: entra.clientId,
      authority: entra.authority,
      redirectUri: `${location.origin}/console`,
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
  await client.initialize();
  const result = await client.handleRedirectPromise();
  if (result?.accessToken) session.signIn(result.accessToken);
  return {
    signIn: () => client.loginRedirect({ scopes: [...entra.scopes] }),
    async refresh() {
      const account = client.getAllAccounts()[0];
      if (account === undefined) return;
      const silent = await client.acquireTokenSilent({ scopes: [...entra.scopes], account });
      session.signIn(silent.accessToken);
    },
  };
}
