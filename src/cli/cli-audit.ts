// The CLI's audit events: the operating-system user is the actor, and an operation's event is made
// durable before it starts (as the API's 202), so a change from a shell is never unrecorded.
import { userInfo } from 'node:os';
import { auditOperation, type OperationAuditDetails } from '../audit/operation-audit.ts';
import type { OpenedServices } from '../composition/open-services.ts';
import type { AuditAction } from '../domain/audit-event.ts';

export type CliAuditDetails = OperationAuditDetails;

export function auditCli(
  services: OpenedServices,
  action: AuditAction,
  details: CliAuditDetails = {},
): Promise<void> {
  return auditOperation(
    services.audit,
    new Date(),
    { sub: `os:${userInfo().username}`, roles: ['cli'] },
    action,
    details,
  );
}
