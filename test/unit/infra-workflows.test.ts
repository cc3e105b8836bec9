// The deploy workflow signs in to Azure with id-token: write, so what it deploys must be main as pushed to
// this repository: `workflow_run` with `branches: [main]` matches the head branch's name, which a fork's
// pull request can also call main.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../support/bicep-source.ts';

interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<
    string,
    { if?: string; environment?: string; env?: Record<string, string>; steps?: Array<{ run?: string }> }
  >;
}

const deploy = parseYaml(readFileSync(join(ROOT, '.github/workflows/deploy.yml'), 'utf8')) as Workflow;

/** The alternatives of an expression joined by `||` outside parentheses, whitespace collapsed. */
function alternatives(expression: string): string[] {
  const found: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < expression.length; i++) {
    const char = expression[i]!;
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (depth === 0 && expression.startsWith('||', i)) {
      found.push(current);
      current = '';
      i++;
      continue;
    }
    current += char;
  }
  return [...found, current].map((part) => part.replace(/\s+/g, ' ').trim());
}

describe('.github/workflows/deploy.yml', () => {
  const job = deploy.jobs.deploy!;

  it('deploys with an OIDC token into the production environment', () => {
    expect(deploy.permissions['id-token']).toBe('write');
    expect(job.environment).toBe('production');
  });

  it("runs after a successful CI run of a push to this repository's main, or by hand on main, nothing else", () => {
    expect(Object.keys(deploy.on).sort()).toEqual(['workflow_dispatch', 'workflow_run']);
    const ways = alternatives(job.if ?? '');
    expect(ways).toHaveLength(2);
    const byHand = ways.find((way) => way.includes("github.event_name == 'workflow_dispatch'"));
    expect(byHand).toContain("github.ref == 'refs/heads/main'");
    const afterCi = ways.find((way) => way !== byHand) ?? '';
    for (const condition of [
      "github.event_name == 'workflow_run'",
      "github.event.workflow_run.conclusion == 'success'",
      "github.event.workflow_run.event == 'push'",
      'github.event.workflow_run.head_repository.full_name == github.repository',
    ]) {
      expect(afterCi).toContain(condition);
    }
    expect(afterCi).not.toContain('||');
  });

  it('applies the Bicep on every deployment (--no-state), so a change made by hand does not survive one', () => {
    const provisions = (job.steps ?? []).filter((step) => /\bazd provision\b/.test(step.run ?? ''));
    expect(provisions).toHaveLength(1);
    expect(provisions[0]!.run).toMatch(/\s--no-state\b/);
  });

  // CI builds a fresh azd environment on every run: a parameter azd reads from an environment variable
  // that the workflow does not pass would be reset to its default by the next merge.
  it('passes every environment value main.parameters.json reads, from the repository variable of that name', () => {
    const parameters = readFileSync(join(ROOT, 'infra/main.parameters.json'), 'utf8');
    const read = [...parameters.matchAll(/\$\{(\w+)(?:=([^}]*))?\}/g)].map(([, name, fallback]) => ({
      name: name!,
      fallback,
    }));
    expect(read.map(({ name }) => name)).toEqual(
      expect.arrayContaining(['AZURE_ENV_NAME', 'ARCHIVAL_SCHEDULE_ENABLED', 'COSMOS_ACCOUNT_NAME']),
    );
    for (const { name, fallback } of read) {
      const expected =
        fallback === undefined ? `\${{ vars.${name} }}` : `\${{ vars.${name} || '${fallback}' }}`;
      expect(job.env?.[name], name).toBe(expected);
    }
  });
});
