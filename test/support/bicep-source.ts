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

export interface BicepResource {
  readonly symbol: string;
  /** The resource type without its API version, e.g. Microsoft.Storage/storageAccounts. */
  readonly type: string;
  /** The loop source when the resource is declared `= [for x in SOURCE: {`. */
  readonly loopSource?: string;
  /** The declaration up to its closing brace at column 0. */
  readonly body: string;
}

/** Every top-level `resource` declaration of a file (each ends at the first `}` or `]` at column 0). */
export function resources(file: string): BicepResource[] {
  const source = readBicep(file);
  const found: BicepResource[] = [];
  for (const match of source.matchAll(/^resource (\w+) '([^@']+)@[^']+'[^\n]*$/gm)) {
    const start = match.index;
    const end = source.slice(start).search(/\n[}\]]\n/);
    const body = end < 0 ? source.slice(start) : source.slice(start, start + end + 3);
    const loopSource = /^\s*for\s+\S.*?\s+in\s+(.+?):\s*\{$/m.exec(body)?.[1];
    found.push({ symbol: match[1]!, type: match[2]!, body, ...(loopSource && { loopSource }) });
  }
  return found;
}

/** The expression of a resource's own `name:` (the first property line two spaces in, or four in a loop). */
export function resourceName(resource: BicepResource): string | undefined {
  return /^ {2,4}name: (.+)$/m.exec(resource.body)?.[1];
}

/** The collection expression of every `for … in COLLECTION:` loop of a file (resources, modules, vars, properties). */
export function loopCollections(file: string): string[] {
  return [...readBicep(file).matchAll(/\bfor\s+(?:\([^)]*\)|\w+)\s+in\s+(.+?):\s/g)].map(
    (match) => match[1]!,
  );
}

/** The text of a top-level `var name = …`: its line, or up to its closing `]` or `}` at column 0. */
export function varDefinition(file: string, name: string): string | undefined {
  const lines = readBicep(file).split('\n');
  const start = lines.findIndex((line) => line.startsWith(`var ${name} = `));
  if (start < 0) return undefined;
  if (!/[[{]$/.test(lines[start]!)) return lines[start];
  const end = lines.findIndex((line, index) => index > start && /^[\]}]/.test(line));
  return lines.slice(start, end + 1).join('\n');
}

/** An expression with every top-level var it names replaced by that var's definition, recursively. */
export function expandVars(file: string, expression: string, seen = new Set<string>()): string {
  const expanded = [...expression.matchAll(/\b[A-Za-z_]\w*\b/g)].flatMap((match) => {
    const name = match[0];
    if (seen.has(name)) return [];
    seen.add(name);
    const definition = varDefinition(file, name);
    return definition === undefined ? [] : [expandVars(file, definition, seen)];
  });
  return [expression, ...expanded].join('\n');
}
