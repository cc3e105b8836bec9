// The verified-token cache: a cached token answers without a new RS256 check, never past its `exp`,
// never after its key has left the JWKS, and a rejected token is never cached.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEphemeralDevKeyPair, type DevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import {
  createTokenVerifier,
  createVerifiedTokenCache,
  KEY_SET_CHECK_MS,
  type Principal,
} from '../../src/api/authentication.ts';
import { ManualClock } from '../fakes/manual-clock.ts';

const ISSUER = 'urn:test:cache';
const AUDIENCE = 'api://cache';
let keys: DevKeyPair;

beforeAll(async () => {
  keys = await createEphemeralDevKeyPair();
});

const sign = (expiresInSeconds: number, pair = keys): Promise<string> =>
  pair.sign({ subject: 'op', roles: ['Billing.Read'], issuer: ISSUER, audience: AUDIENCE, expiresInSeconds });

describe('createTokenVerifier with its cache', () => {
  it('answers a token it verified before from the cache (the same principal), and a new token afresh', async () => {
    const verify = createTokenVerifier({ keys: { jwks: keys.jwks }, issuer: ISSUER, audience: AUDIENCE });
    const token = await sign(600);
    const first = await verify(`Bearer ${token}`);
    expect(await verify(`Bearer ${token}`)).toBe(first);
    expect(await verify(`Bearer ${await sign(601)}`)).not.toBe(first);
    const uncached = createTokenVerifier({
      keys: { jwks: keys.jwks },
      issuer: ISSUER,
      audience: AUDIENCE,
      cachedTokens: 0,
    });
    const once = await uncached(`Bearer ${token}`);
    expect(await uncached(`Bearer ${token}`)).not.toBe(once);
  });

  it('stops answering a cached token at its exp', async () => {
    const clock = new ManualClock(new Date().toISOString());
    const verify = createTokenVerifier({
      keys: { jwks: keys.jwks },
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: () => clock.now(),
    });
    const token = await sign(120);
    await verify(`Bearer ${token}`);
    clock.advance(100_000);
    await expect(verify(`Bearer ${token}`)).resolves.toBeDefined();
    // Past exp and past the verifier's 60 s tolerance: rejected, although it was cached.
    clock.advance(90_000);
    await expect(verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('never caches a rejected token', async () => {
    const verify = createTokenVerifier({
      keys: { jwks: keys.jwks },
      issuer: ISSUER,
      audience: 'api://other',
    });
    const token = await sign(600);
    await expect(verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('a key that leaves the JWKS', () => {
  let server: Server;
  let served: JSONWebKeySet;
  let url: URL;
  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('stops the cached tokens signed with it once the verifier sees the new key set', async () => {
    const next = await createEphemeralDevKeyPair();
    served = { keys: [{ ...keys.jwks.keys[0]!, kid: 'old' }] };
    const remote = createRemoteJWKSet(url);
    await remote.reload();
    const clock = new ManualClock();
    const cache = createVerifiedTokenCache(
      { keys: { jwksUri: url.href }, issuer: ISSUER, audience: AUDIENCE },
      remote,
      () => clock.now(),
    )!;
    const principal: Principal = { subject: 'op', roles: new Set(), customerIds: undefined };
    const exp = clock.now().getTime() / 1000 + 3600;
    cache.set('token-old', { principal, exp, kid: 'old' });
    expect(cache.get('token-old')).toBe(principal);
    // Rotation: the JWKS now holds only the next key, and the verifier has fetched it.
    served = { keys: [{ ...next.jwks.keys[0]!, kid: 'new' }] };
    await remote.reload();
    clock.advance(KEY_SET_CHECK_MS);
    expect(cache.get('token-old')).toBeUndefined();
    cache.set('token-new', { principal, exp, kid: 'new' });
    expect(cache.get('token-new')).toBe(principal);
  });
});
