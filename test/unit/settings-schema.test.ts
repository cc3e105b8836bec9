// The settings schema is the one declaration of the configuration: its examples and defaults must pass
// it, and README.md's configuration table must name the same settings with the same defaults.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/app-config.ts';
import { describeSetting, SETTING_NAMES, SettingsSchema } from '../../src/config/settings-schema.ts';
import { settingsTable } from '../../src/config/settings-table.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The table under `## Configuration`: its lines, and the cells of each row below the header. */
function configurationTable(markdown: string): { lines: string[]; rows: string[][] } {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Configuration\n')) ?? '';
  const lines = section.split('\n').filter((line) => line.startsWith('|'));
  const rows = lines.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim()),
  );
  return { lines, rows };
}

/** Setting names in a cell, written as code spans (`PORT`, `AUTH_JWKS_URI` or `AUTH_JWKS_PATH`). */
const namesIn = (cell: string): string[] =>
  [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1] ?? '');

const table = configurationTable(README);
const known = new Set<string>(SETTING_NAMES);

describe('the settings schema', () => {
  it('lists each setting once, named as an environment variable', () => {
    expect(SETTING_NAMES).toEqual(Object.keys(SettingsSchema.properties));
    expect(new Set(SETTING_NAMES).size).toBe(SETTING_NAMES.length);
    for (const name of SETTING_NAMES) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('documents every setting: a meaning, an example, and a default or what happens without it', () => {
    for (const name of SETTING_NAMES) {
      const setting = describeSetting(name);
      expect(setting.description, name).not.toBe('');
      expect(setting.example, name).not.toBe('');
      expect(setting.default ?? setting.unset, name).toBeDefined();
    }
  });

  it('accepts its own examples and defaults', () => {
    for (const name of SETTING_NAMES) {
      const { example, default: fallback } = describeSetting(name);
      expect(readSettings({ [name]: example }).problems, `${name}=${example}`).toEqual([]);
      if (fallback !== undefined)
        expect(readSettings({ [name]: fallback }).problems, `${name}=${fallback}`).toEqual([]);
    }
  });
});

describe("README.md's configuration table", () => {
  const named = table.rows.flatMap((row) => namesIn(row[0] ?? ''));

  it('names every setting of the schema', () => {
    expect(SETTING_NAMES.filter((name) => !named.includes(name))).toEqual([]);
  });

  it('names no setting the schema does not know', () => {
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });

  it('states the defaults the schema applies', () => {
    const mismatches: string[] = [];
    for (const row of table.rows) {
      const names = namesIn(row[0] ?? '');
      const name = names[0];
      if (names.length !== 1 || name === undefined || !known.has(name)) continue;
      // A lone code span states a default; anything else says what happens without the setting.
      const stated = /^`([^`]*)`$/.exec(row[1] ?? '')?.[1];
      const schemaDefault = describeSetting(name as (typeof SETTING_NAMES)[number]).default;
      if (stated !== schemaDefault)
        mismatches.push(`${name}: README ${stated ?? '(none)'}, schema ${schemaDefault ?? '(none)'}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('is the table `npm run config:docs` prints (run it and paste its output into README.md)', () => {
    expect(table.lines.join('\n')).toBe(settingsTable());
  });
});
