// Reads what the drift and lint tests need from the Bicep under infra/, without a Bicep compiler (none
// runs on these machines): the files are kept simple enough for these few patterns, and a pattern that
// finds nothing fails the test that uses it, so a rewrite cannot make a check pass by matching nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const INFRA = join(ROOT, 'infra');

/** Every .bicep file under infra/, relative to the repository root. */
export function bicepFiles(): string[] {
  return readdirSync(INFRA, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.bicep'))
    .map((file) => relative(ROOT, join(INFRA, file)))
    .sort();
}

export function readBicep(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** Each loadJsonContent('path') of a file, resolved against the file's folder as Bicep resolves it. */
export function loadedJsonFiles(file: string): string[] {
  return [...readBicep(file).matchAll(/loadJsonContent\('([^']+)'\)/g)].map((match) =>
    relative(ROOT, resolve(dirname(join(ROOT, file)), match[1]!)),
  );
}

/** The keys of a top-level `var name = { ... }` object (one key per line, two spaces in). */
export function objectVarKeys(file: string, name: string): string[] {
  const source = readBicep(file);
  const start = source.indexOf(`\nvar ${name} = {\n`);
  if (start < 0) throw new Error(`${file} has no "var ${name} = {" block`);
  const end = source.indexOf('\n}\n', start);
  return source
    .slice(start, end)
    .split('\n')
    .map((line) => /^ {2}'?([A-Za-z0-9_.]+)'?\s*:/.exec(line)?.[1])
    .filter((key): key is string => key !== undefined);
}

export interface BicepParam {
  readonly name: string;
  /** The decorators (lines starting with @) right above the param. */
  readonly decorators: readonly string[];
}

/** Every `param` of a file with the decorator lines above it. */
export function params(file: string): BicepParam[] {
  const lines = readBicep(file).split('\n');
  const found: BicepParam[] = [];
  lines.forEach((line, index) => {
    const name = /^param\s+(\w+)\s/.exec(line)?.[1];
    if (name === undefined) return;
    const decorators: string[] = [];
    for (let above = index - 1; above >= 0 && lines[above]!.startsWith('@'); above--)
      decorators.push(lines[above]!);
    found.push({ name, decorators });
  });
  return found;
}
