// `npm run audit -- <command>`: verify | query. The same use case as the admin API's audit routes; the
// CLI's own verification is audited too, its actor the operating-system user.
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AUDIT_ACTIONS, type AuditAction } from '../domain/audit-event.ts';
import { auditCli } from './cli-audit.ts';
import { withCliServices } from './cli-services.ts';

const program = new Command()
  .name('audit')
  .description('Verify and read the audit trail (the same use cases as GET /api/v1/admin/audit)')
  .showHelpAfterError();

program
  .command('verify')
  .description('Re-compute every hash chain; exits 1 naming the first broken link')
  .option('--json', 'print the result as JSON')
  .action((options: { json?: boolean }) =>
    withCliServices(async (services) => {
      const result = await services.audit.verify();
      await auditCli(services, 'audit.verify', {
        status: result.ok ? 200 : 409,
        ...(result.ok
          ? {}
          : { reason: `broken at ${result.brokenChain ?? '?'}#${result.firstBroken ?? '?'}` }),
      });
      if (options.json === true) console.log(JSON.stringify(result));
      else if (result.ok) {
        console.log(
          `Audit trail verified: ${result.checked} events in ${result.chains} chain(s), no broken link.`,
        );
      } else {
        console.log(
          `Audit trail BROKEN: chain ${result.brokenChain} at seq ${result.firstBroken}: ${result.problem}\n` +
            `(${result.checked} events verified before it, ${result.chains} chain(s) in all)`,
        );
      }
      return result.ok ? 0 : 1;
    }),
  );

function asInstant(value: string): string {
  const time = Date.parse(value);
  if (!Number.isFinite(time))
    throw new InvalidArgumentError('expected a date-time such as 2026-12-01T00:00:00Z');
  return new Date(time).toISOString();
}

program
  .command('query')
  .description('Audit events by customer, record, actor, action and time, oldest first')
  .option('--customer <id>', 'customer id')
  .option('--record <id>', 'record id')
  .option('--actor <sub>', "the actor's token subject")
  .addOption(new Option('--action <action>', 'the action').choices(AUDIT_ACTIONS))
  .option('--from <instant>', 'from this instant (inclusive)', asInstant)
  .option('--to <instant>', 'until this instant (exclusive)', asInstant)
  .option('--limit <n>', 'events to print', (value) => Number.parseInt(value, 10), 100)
  .action(
    (options: {
      customer?: string;
      record?: string;
      actor?: string;
      action?: AuditAction;
      from?: string;
      to?: string;
      limit: number;
    }) =>
      withCliServices(async (services) => {
        const page = await services.audit.query({
          limit: options.limit,
          ...(options.customer !== undefined ? { customerId: options.customer } : {}),
          ...(options.record !== undefined ? { recordId: options.record } : {}),
          ...(options.actor !== undefined ? { actor: options.actor } : {}),
          ...(options.action !== undefined ? { action: options.action } : {}),
          ...(options.from !== undefined ? { from: options.from } : {}),
          ...(options.to !== undefined ? { to: options.to } : {}),
        });
        const table = new Table({
          head: ['at', 'actor', 'action', 'customer', 'record', 'status', 'reason'],
        });
        for (const event of page.items) {
          table.push([
            event.at,
            event.actor.sub,
            event.action,
            event.customerId ?? '',
            event.recordId ?? '',
            event.status,
            event.reason ?? '',
          ]);
        }
        console.log(table.toString());
        if (page.next !== undefined) console.log(`(more: narrow the query or raise --limit)`);
        return 0;
      }),
  );

await program.parseAsync();
