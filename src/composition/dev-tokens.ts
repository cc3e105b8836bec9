// Tokens for the embedded mode: signed by the dev key pair in DATA_DIR that the server verifies with.
import { type DevTokenClaims, loadOrCreateDevKeyPair } from '../adapters/dev-identity/dev-key-pair.ts';
import type { AuthConfig } from '../config/app-config.ts';

export async function signDevToken(
  auth: Extract<AuthConfig, { kind: 'dev-keys' }>,
  claims: Omit<DevTokenClaims, 'issuer' | 'audience'>,
): Promise<string> {
  const keys = await loadOrCreateDevKeyPair(auth.folder);
  return keys.sign({ ...claims, issuer: auth.issuer, audience: auth.audience });
}
