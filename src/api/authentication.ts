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

/** Why a request was refused (`auth_denied_total{reason}`), kept beside the error it explains. */
export type DenialReason =
  | 'missing_token'
  | 'bad_signature'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'invalid_token'
  | 'role'
  | 'customer_scope';

const denialReasons = new WeakMap<AppError, DenialReason>();

function denied(error: AppError, reason: DenialReason): AppError {
  denialReasons.set(error, reason);
  return error;
}

/** The reason of a 401/403 raised here; `invalid_token` for any other UNAUTHENTICATED error. */
export function denialReason(error: AppError): DenialReason | undefined {
  if (error.code !== 'UNAUTHENTICATED' && error.code !== 'FORBIDDEN') return undefined;
  return denialReasons.get(error) ?? (error.code === 'FORBIDDEN' ? 'role' : 'invalid_token');
}

function joseReason(error: unknown): DenialReason {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'iss') return 'wrong_issuer';
  }
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey
  )
    return 'bad_signature';
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
      throw denied(
        new AppError('UNAUTHENTICATED', 'Send a bearer token in the Authorization header'),
        'missing_token',
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
      throw denied(
        new AppError('UNAUTHENTICATED', `The bearer token is not valid (${reason})`, { cause: error }),
        joseReason(error),
      );
    }
  };
}

/** Throws FORBIDDEN when the principal lacks the role or the customer. */
export function authorize(principal: Principal, role: Role, customerId: string | undefined): void {
  if (!principal.roles.has(role))
    throw denied(new AppError('FORBIDDEN', `This operation needs the role ${role}`), 'role');
  if (
    customerId !== undefined &&
    principal.customerIds !== undefined &&
    !principal.customerIds.has(customerId)
  ) {
    throw denied(
      new AppError('FORBIDDEN', `This token may not access customer ${customerId}`),
      'customer_scope',
    );
  }
}
