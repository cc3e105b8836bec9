// The CLI's audit events: the operating-system user is the actor, and an operation's event is made
// durable before it starts (as the API's 202), so a change from a shell is never unrecorded.
import { userInfo } from 'node:os';
import type { OpenedServices } from '../composition/open-services.ts';
import type { AuditAction } from '../domain/audit-event.ts';

export interface CliAuditDetails {
  readonly customerId?: string | undefined;
  readonly recordId?: string | undefined;
  readonly reason?: string | undefined;
  /** 202 for an operation about to start, 200 for a finished one, 409 for a failed verification. */
  readonly status?: number;
}

export function auditCli(
  services: OpenedServices,
  action: AuditAction,
  details: CliAuditDetails = {},
): Promise<void> {
  return services.audit.recordNow({
    at: new Date().toISOString(),
    actor: { sub: `os:${userInfo().username}`, roles: ['cli'] },
    action,
    customerId: details.customerId ?? null,
    recordId: details.recordId ?? null,
    status: details.status ?? 202,
    requestId: null,
    reason: details.reason ?? null,
  });
}
