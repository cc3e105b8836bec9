// `npm run token -- --role Billing.Admin`: prints a bearer token signed by the embedded dev key pair.
import { Command, Option } from 'commander';
import { ROLES } from '../api/authentication.ts';
import { signDevToken } from '../composition/dev-tokens.ts';
import { ConfigError, loadConfig } from '../config/app-config.ts';

const program = new Command()
  .name('token')
  .description('Print a bearer token for the embedded API (dev key pair in DATA_DIR)')
  .addOption(
    new Option('-r, --role <role...>', 'roles to grant')
      .choices(ROLES)
      .default(['Billing.Read', 'Billing.Write']),
  )
  .option('-c, --customer <id...>', 'limit the token to these customers (customer_ids claim)')
  .option('-s, --subject <name>', 'the token subject', 'dev-user')
  .option('-e, --expires-in <seconds>', 'lifetime in seconds', (v) => Number.parseInt(v, 10), 12 * 3600)
  .parse();

const options = program.opts<{ role: string[]; customer?: string[]; subject: string; expiresIn: number }>();

try {
  const config = loadConfig(process.env, process.cwd());
  if (config.auth.kind !== 'dev-keys') {
    console.error(
      'AUTH_JWKS_PATH or AUTH_JWKS_URI is set: tokens come from that identity provider, not from this command.',
    );
    process.exit(2);
  }
  const token = await signDevToken(config.auth, {
    subject: options.subject,
    roles: options.role,
    ...(options.customer !== undefined ? { customerIds: options.customer } : {}),
    expiresInSeconds: options.expiresIn,
  });
  process.stdout.write(`${token}\n`);
  if (process.stdout.isTTY) {
    console.error(
      `\nroles: ${options.role.join(', ')}; valid ${options.expiresIn} s. Use it as: curl -H "Authorization: Bearer <token>" ...`,
    );
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
