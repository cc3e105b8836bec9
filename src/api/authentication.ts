// Bearer JWTs (RS256) verified against a JWKS: Entra ID in production, a local dev key pair embedded.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
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
  | 'missing_role'
  | 'customer_not_allowed';

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
  const getKey: JWTVerifyGetKey =
    'jwks' in options.keys
      ? createLocalJWKSet(options.keys.jwks)
      : createRemoteJWKSet(new URL(options.keys.jwksUri));
  return async (header) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (match?.[1] === undefined)
      throw new AccessDenied(
        'UNAUTHENTICATED',
        'missing_token',
        'Send a bearer token in the Authorization header',
      );
    try {
      const { payload } = await jwtVerify(match[1], getKey, {
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
      return {
        subject: payload.sub ?? 'unknown',
        roles: new Set(roles),
        customerIds: Array.isArray(customers)
          ? new Set(customers.filter((c): c is string => typeof c === 'string'))
          : undefined,
      };
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
    throw new AccessDenied('FORBIDDEN', 'missing_role', `This operation needs the role ${role}`);
  // A token limited to some customers may not use operations that span customers (the audit, every
  // hold, archival runs): they would show or change other customers' data.
  if (principal.customerIds !== undefined && customerId === undefined && role === 'Billing.Admin') {
    throw new AccessDenied(
      'FORBIDDEN',
      'customer_not_allowed',
      'A token limited to some customers may not use operations across customers',
    );
  }
  if (
    customerId !== undefined &&
    principal.customerIds !== undefined &&
    !principal.customerIds.has(customerId)
  ) {
    throw new AccessDenied(
      'FORBIDDEN',
      'customer_not_allowed',
      `This token may not access customer ${customerId}`,
    );
  }
}
