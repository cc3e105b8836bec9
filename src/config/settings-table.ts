// The README's configuration table, printed from the settings schema (`npm run config:docs`);
// a unit test keeps README.md equal to it, so the documentation cannot drift from the code.
import { describeSetting, SETTING_NAMES } from './settings-schema.ts';

const HEADER = ['setting', 'default', 'example', 'meaning'] as const;

const code = (value: string): string => `\`${value}\``;

/** One row per setting: name, default (or what happens without it), example, meaning. */
export function settingsTableRows(): string[][] {
  return SETTING_NAMES.map((name) => {
    const setting = describeSetting(name);
    return [
      code(name),
      setting.default !== undefined ? code(setting.default) : `(${setting.unset ?? 'unset'})`,
      code(setting.example),
      setting.description,
    ].map((cell) => cell.replaceAll('|', '\\|'));
  });
}

/** Aligned as prettier aligns Markdown tables, so `prettier --check README.md` agrees. */
export function settingsTable(): string {
  const rows = [[...HEADER], ...settingsTableRows()];
  const widths = HEADER.map((_, column) => Math.max(3, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [line(header ?? []), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}
