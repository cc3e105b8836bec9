// The embedded stand-in for Entra ID: an RS256 key pair kept in the data folder, a JWKS for the
// verifier, and a signer for `npm run token`. Never used when AUTH_JWKS_* is configured.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, SignJWT } from 'jose';

export interface DevKeyPair {
  readonly jwks: JSONWebKeySet;
  sign(claims: DevTokenClaims): Promise<string>;
}

export interface DevTokenClaims {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly customerIds?: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  readonly expiresInSeconds: number;
}

const PRIVATE_FILE = 'private-key.jwk.json';
const JWKS_FILE = 'jwks.json';

/** Loads the key pair from `folder`, creating it on first use. */
export async function loadOrCreateDevKeyPair(folder: string): Promise<DevKeyPair> {
  const privatePath = join(folder, PRIVATE_FILE);
  if (!existsSync(privatePath)) {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `dev-${Date.now().toString(36)}`;
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    try {
      // Create-only: when `npm start` and `npm run token` race on a fresh folder, the first key wins.
      writeFileSync(privatePath, JSON.stringify(privateJwk), { mode: 0o600, flag: 'wx' });
      writeFileSync(join(folder, JWKS_FILE), JSON.stringify({ keys: [publicJwk] }, null, 2));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return devKeyPairFrom(JSON.parse(readFileSync(privatePath, 'utf8')) as JWK);
}

export async function devKeyPairFrom(privateJwk: JWK): Promise<DevKeyPair> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  const key = await importJWK(privateJwk, 'RS256');
  return {
    jwks: { keys: [publicJwk] },
    sign: (claims) =>
      new SignJWT({
        roles: [...claims.roles],
        ...(claims.customerIds !== undefined ? { customer_ids: [...claims.customerIds] } : {}),
      })
        .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid ?? 'dev' })
        .setSubject(claims.subject)
        .setIssuer(claims.issuer)
        .setAudience(claims.audience)
        .setIssuedAt()
        .setExpirationTime(`${claims.expiresInSeconds}s`)
        .sign(key),
  };
}

/** A fresh in-memory key pair (tests). */
export async function createEphemeralDevKeyPair(): Promise<DevKeyPair> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return devKeyPairFrom({ ...(await exportJWK(privateKey)), kid: 'ephemeral', alg: 'RS256' });
}
