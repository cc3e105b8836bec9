// Audit events for operations no request started: a CLI verb (the operating-system user acts) or a
// timer (the system principal acts). The event is durable before the operation starts, as the API's
// 202: an operation whose event cannot be written does not run, so none goes unrecorded.
import type { AuditActor, AuditAction } from '../domain/audit-event.ts';
import type { AuditTrail } from './audit-trail.ts';

/** Who acts when a schedule starts the work (Functions timers, the scheduler of `npm start`). */
export const SYSTEM_ACTOR: AuditActor = { sub: 'system:scheduler', roles: ['system'] };

export interface OperationAuditDetails {
  readonly customerId?: string | undefined;
  readonly recordId?: string | undefined;
  readonly reason?: string | undefined;
  /** 202 for an operation about to start (the default), 200 for a finished one, 409 for a failed check. */
  readonly status?: number;
}

export function auditOperation(
  audit: Pick<AuditTrail, 'recordNow'>,
  at: Date,
  actor: AuditActor,
  action: AuditAction,
  details: OperationAuditDetails = {},
): Promise<void> {
  return audit.recordNow({
    at: at.toISOString(),
    actor,
    action,
    customerId: details.customerId ?? null,
    recordId: details.recordId ?? null,
    status: details.status ?? 202,
    requestId: null,
    reason: details.reason ?? null,
  });
}
