// JWT rejections, each with the denial reason counted in auth_denied_total{reason}: the attacks of the
// literature (alg none, HS256 signed with the RSA public key), an unknown kid, nbf in the future, another
// audience or issuer, an expired token. Real jose, real keys.
import { createPublicKey } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AccessDenied, createTokenVerifier, type TokenVerifier } from '../../src/api/authentication.ts';

const ISSUER = 'urn:test:issuer';
const AUDIENCE = 'api://test';
let verify: TokenVerifier;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  verify = createTokenVerifier({ keys: { jwks: { keys: [publicJwk] } }, issuer: ISSUER, audience: AUDIENCE });
});

const claims = { roles: ['Billing.Read'] };
const valid = (kid = 'k1') =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject('alice')
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('5m');

async function reasonFor(token: string): Promise<string> {
  try {
    await verify(`Bearer ${token}`);
  } catch (error) {
    expect(error).toBeInstanceOf(AccessDenied);
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    return (error as AccessDenied).reason;
  }
  throw new Error('the token was accepted');
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('token rejection', () => {
  it('accepts a valid token', async () => {
    await expect(verify(`Bearer ${await valid().sign(privateKey)}`)).resolves.toMatchObject({
      subject: 'alice',
    });
  });

  it('refuses alg none', async () => {
    const payload = {
      ...claims,
      sub: 'alice',
      iss: ISSUER,
      aud: AUDIENCE,
      exp: Math.floor(Date.now() / 1000) + 300,
    };
    const unsigned = `${b64({ alg: 'none', kid: 'k1' })}.${b64(payload)}.`;
    expect(await reasonFor(unsigned)).toMatch(/algorithm_not_allowed|malformed_token/);
  });

  it('refuses HS256 signed with the RSA public key as the secret', async () => {
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('mallory')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem.toString()));
    expect(await reasonFor(token)).toBe('algorithm_not_allowed');
  });

  it('refuses a kid the JWKS does not have', async () => {
    const other = await generateKeyPair('RS256');
    const token = await valid('k-unknown').sign(other.privateKey);
    expect(await reasonFor(token)).toBe('unknown_key');
  });

  it('refuses a token signed by another key under a known kid', async () => {
    const other = await generateKeyPair('RS256');
    expect(await reasonFor(await valid().sign(other.privateKey))).toBe('bad_signature');
  });

  it('refuses nbf in the future, beyond the clock tolerance', async () => {
    const token = await valid()
      .setNotBefore(Math.floor(Date.now() / 1000) + 3600)
      .sign(privateKey);
    expect(await reasonFor(token)).toBe('not_yet_valid');
  });

  it('refuses a token for another audience, from another issuer, or expired', async () => {
    expect(await reasonFor(await valid().setAudience('api://other').sign(privateKey))).toBe('wrong_audience');
    expect(await reasonFor(await valid().setIssuer('urn:other').sign(privateKey))).toBe('wrong_issuer');
    const expired = await valid()
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(privateKey);
    expect(await reasonFor(expired)).toBe('expired');
  });

  it('refuses a missing or malformed bearer', async () => {
    await expect(verify(undefined)).rejects.toMatchObject({ reason: 'missing_token' });
    expect(await reasonFor('not.a.jwt')).toBe('malformed_token');
  });
});
