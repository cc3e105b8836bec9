// A stand-in for `@azure/functions-core`, the module the Functions worker provides to `@azure/functions` at
// run time: it records what the app registers and prints it when the process ends. Everything else the
// tests load is the real package.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROUTE_TABLE } from '../../src/api/api-application.ts';

const FAKE_CORE = `
const registered = [];
module.exports = {
  setProgrammingModel() {},
  registerFunction(metadata) {
    const trigger = Object.values(metadata.bindings).find((binding) => /trigger$/i.test(binding.type));
    registered.push({ name: metadata.name, trigger: trigger && trigger.type });
    return { dispose() {} };
  },
  registerHook() { return { dispose() {} }; },
  log() {},
};
process.on('exit', () => process.stdout.write('REGISTERED ' + JSON.stringify(registered) + '\\n'));
`;

export interface RegisteredFunction {
  readonly name: string;
  readonly trigger: string;
}

/** Writes the stand-in under `folder`; put `folder` on NODE_PATH of the process that loads the entry. */
export function writeFunctionsCoreStub(folder: string): void {
  const core = join(folder, '@azure', 'functions-core');
  mkdirSync(core, { recursive: true });
  writeFileSync(join(core, 'package.json'), '{"name":"@azure/functions-core","main":"index.cjs"}');
  writeFileSync(join(core, 'index.cjs'), FAKE_CORE);
}

/** The functions the stand-in saw registered, read from the loading process's output. */
export function registeredFunctions(output: string): RegisteredFunction[] {
  const line = output.split('\n').find((candidate) => candidate.startsWith('REGISTERED '));
  return JSON.parse(line?.slice('REGISTERED '.length) ?? '[]') as RegisteredFunction[];
}

/** Asserts an HTTP trigger per route, the archival and collector timers and the run-queue trigger; returns the triggers by name. */
export function expectEveryTrigger(registered: readonly RegisteredFunction[]): Map<string, string> {
  const byName = new Map(registered.map((item) => [item.name, item.trigger]));
  for (const route of ROUTE_TABLE.routes) expect(byName.get(route.operationId)).toBe('httpTrigger');
  expect(byName.get('archivalRun')).toBe('timerTrigger');
  expect(byName.get('archiveCollector')).toBe('timerTrigger');
  expect(byName.get('archivalRunQueued')).toBe('queueTrigger');
  return byName;
}
