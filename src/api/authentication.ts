// Bearer JWTs (RS256) verified against a JWKS: Entra ID in production, a local dev key pair embedded.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  jwtVerify,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from 'jose';
import { hash as digest } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AppError } from '../domain/errors.ts';

export const ROLES = ['Billing.Read', 'Billing.Write', 'Billing.Admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  readonly subject: string;
  readonly roles: ReadonlySet<string>;
  /** Customers this caller may touch; undefined means any. */
  readonly customerIds: ReadonlySet<string> | undefined;
}

export interface TokenVerifierOptions {
  readonly keys: { readonly jwks: JSONWebKeySet } | { readonly jwksUri: string };
  readonly issuer: string;
  readonly audience: string;
  /** Seconds of clock skew tolerated on exp/nbf. */
  readonly clockToleranceSeconds?: number;
  /** For tests with a fake clock. */
  readonly currentDate?: () => Date;
  /**
   * Verified tokens kept (by sha256 of the token) so a caller's next request skips the RS256 check; 0
   * turns it off. An entry never outlives the token's `exp`, nor the presence of its key in the JWKS.
   */
  readonly cachedTokens?: number;
}

/** How often the cache re-reads which keys the JWKS holds (a rotation stops cached tokens within this). */
export const KEY_SET_CHECK_MS = 5_000;

interface CachedToken {
  readonly principal: Principal;
  /** Seconds since the epoch, as in the token. */
  readonly exp: number;
  readonly kid: string | undefined;
}

export type TokenVerifier = (authorizationHeader: string | undefined) => Promise<Principal>;

/** Why access was refused: a short, bounded set (the `reason` label of auth_denied_total). */
export type DenialReason =
  | 'missing_token'
  | 'malformed_token'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'invalid_token'
  | 'role'
  | 'customer_scope';

/** The reason of a 401/403 (auth_denied_total{reason}); `invalid_token` or `role` for one raised elsewhere. */
export function denialReason(error: AppError): DenialReason | undefined {
  if (error.code !== 'UNAUTHENTICATED' && error.code !== 'FORBIDDEN') return undefined;
  if (error instanceof AccessDenied) return error.reason;
  return error.code === 'FORBIDDEN' ? 'role' : 'invalid_token';
}

/** A 401 or 403 that says why, for the audit trail and the denial counter. */
export class AccessDenied extends AppError {
  readonly reason: DenialReason;

  constructor(
    code: 'UNAUTHENTICATED' | 'FORBIDDEN',
    reason: DenialReason,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, detail, options);
    this.reason = reason;
  }
}

/** jose's error codes (and the claim a claim check failed on) to a denial reason. */
function denialReasonOf(error: unknown): DenialReason {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'nbf') return 'not_yet_valid';
    return 'invalid_token';
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm_not_allowed';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'unknown_key';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return 'malformed_token';
  return 'invalid_token';
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keySet = 'jwks' in options.keys ? undefined : createRemoteJWKSet(new URL(options.keys.jwksUri));
  const getKey: JWTVerifyGetKey = keySet ?? createLocalJWKSet((options.keys as { jwks: JSONWebKeySet }).jwks);
  const now = options.currentDate ?? (() => new Date());
  const cached = createVerifiedTokenCache(options, keySet, now);
  return async (header) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (match?.[1] === undefined)
      throw new AccessDenied(
        'UNAUTHENTICATED',
        'missing_token',
        'Send a bearer token in the Authorization header',
      );
    const hit = cached?.get(match[1]);
    if (hit !== undefined) return hit;
    try {
      const { payload, protectedHeader } = await jwtVerify(match[1], getKey, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['RS256'],
        clockTolerance: options.clockToleranceSeconds ?? 60,
        ...(options.currentDate !== undefined ? { currentDate: options.currentDate() } : {}),
      });
      const roles = Array.isArray(payload.roles)
        ? payload.roles.filter((r): r is string => typeof r === 'string')
        : [];
      const customers = payload.customer_ids;
      const principal: Principal = {
        subject: payload.sub ?? 'unknown',
        roles: new Set(roles),
        customerIds: Array.isArray(customers)
          ? new Set(customers.filter((c): c is string => typeof c === 'string'))
          : undefined,
      };
      if (payload.exp !== undefined)
        cached?.set(match[1], { principal, exp: payload.exp, kid: protectedHeader.kid });
      return principal;
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
        throw new AppError('UNAVAILABLE', 'The token signing keys could not be fetched', { cause: error });
      }
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'ERR_INVALID_TOKEN';
      throw new AccessDenied(
        'UNAUTHENTICATED',
        denialReasonOf(error),
        `The bearer token is not valid (${reason})`,
        {
          cause: error,
        },
      );
    }
  };
}

/** Throws FORBIDDEN when the principal lacks the role or the customer. */
export function authorize(principal: Principal, role: Role, customerId: string | undefined): void {
  if (!principal.roles.has(role))
    throw new AccessDenied('FORBIDDEN', 'role', `This operation needs the role ${role}`);
  // A token limited to some customers may not use operations that span customers (the audit, every
  // hold, archival runs): they would show or change other customers' data.
  if (principal.customerIds !== undefined && customerId === undefined && role === 'Billing.Admin') {
    throw new AccessDenied(
      'FORBIDDEN',
      'customer_scope',
      'A token limited to some customers may not use operations across customers',
    );
  }
  if (
    customerId !== undefined &&
    principal.customerIds !== undefined &&
    !principal.customerIds.has(customerId)
  ) {
    throw new AccessDenied('FORBIDDEN', 'customer_scope', `This token may not access customer ${customerId}`);
  }
}

/**
 * The verified-token cache: bounded, keyed by a hash of the token (never the token itself), an entry
 * answered only before its `exp` and while its key is still in the JWKS the verifier knows.
 */
export function createVerifiedTokenCache(
  options: TokenVerifierOptions,
  remote: RemoteJWKSet | undefined,
  now: () => Date,
): { get(token: string): Principal | undefined; set(token: string, entry: CachedToken): void } | undefined {
  const max = options.cachedTokens ?? 10_000;
  if (max <= 0) return undefined;
  const entries = new LRUCache<string, CachedToken>({ max });
  const staticKeys = 'jwks' in options.keys ? keyIdsOf(options.keys.jwks) : undefined;
  let keys: { ids: ReadonlySet<string | undefined>; checkedAt: number } | undefined;
  const keyIds = (at: number): ReadonlySet<string | undefined> => {
    if (staticKeys !== undefined) return staticKeys;
    if (keys === undefined || at - keys.checkedAt >= KEY_SET_CHECK_MS)
      keys = { ids: keyIdsOf(remote?.jwks() ?? { keys: [] }), checkedAt: at };
    return keys.ids;
  };
  // The one-shot digest: no Hash object per request (this runs on every authenticated call).
  const hash = (token: string): string => digest('sha256', token, 'base64url');
  return {
    get(token) {
      const key = hash(token);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      const at = now().getTime();
      if (at >= entry.exp * 1000 || !keyIds(at).has(entry.kid)) {
        entries.delete(key);
        return undefined;
      }
      return entry.principal;
    },
    set(token, entry) {
      entries.set(hash(token), entry);
    },
  };
}

function keyIdsOf(jwks: JSONWebKeySet): ReadonlySet<string | undefined> {
  return new Set(jwks.keys.map((key) => key.kid));
}
