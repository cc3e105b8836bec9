// `npm run sim -- --seeds N [--seed S]`: runs the deterministic simulation for seeds S .. S+N-1 (one
// scenario per seed, the same one every time), prints each violating seed with its trace, and ends with
// `simulation: S seeds, C crash points, V violations`; the exit code is 1 when V > 0.
import { Command, InvalidArgumentError, Option } from 'commander';
import { runScenario, scenarioOfSeed, SIMULATED_PROFILES, type SimulatedProfile } from './simulation.ts';

interface SimOptions {
  readonly seeds: number;
  readonly seed: number;
  readonly trace: boolean;
  readonly adapters: 'memory' | 'files';
  readonly profile: SimulatedProfile;
}

const options = new Command()
  .name('sim')
  .description('Deterministic simulation of the archival engine beside API traffic, with faults and crashes')
  .option('-n, --seeds <n>', 'how many seeds to run', integerIn(1, 10_000_000), 200)
  .option(
    '-s, --seed <s>',
    'the first seed: seed s always replays the same scenario',
    integerIn(0, 0x7fff_ffff),
    1,
  )
  .option('-t, --trace', 'print the trace of every seed, not only of violating ones', false)
  .addOption(
    new Option('-a, --adapters <kind>', 'the archive and control store: in memory, or the embedded files')
      .choices(['memory', 'files'])
      .default('memory'),
  )
  .addOption(
    new Option('-p, --profile <kind>', "the records: the billing record, or a foreign profile's documents")
      .choices([...SIMULATED_PROFILES])
      .default('billing'),
  )
  .parse()
  .opts<SimOptions>();

let crashes = 0;
let violations = 0;
const tally: Record<string, number> = {};
for (let seed = options.seed; seed < options.seed + options.seeds; seed++) {
  const result = await runScenario(scenarioOfSeed(seed), {
    adapters: options.adapters,
    profile: options.profile,
  });
  // Back to the event loop between seeds: objects kept alive for the current job (the targets of WeakRefs
  // that AbortSignal.any makes, and all they reach) are only released when a macrotask ends, and a seed
  // on in-memory stores never leaves the microtask queue.
  await new Promise((resolve) => setImmediate(resolve));
  crashes += result.crashes;
  violations += result.violations.length;
  for (const [what, count] of Object.entries(result.tally)) tally[what] = (tally[what] ?? 0) + count;
  if (result.violations.length > 0 || options.trace) {
    console.log(`seed ${seed}: ${result.violations.length} violation(s)`);
    for (const violation of result.violations) console.log(`  ${violation}`);
    for (const line of result.trace) console.log(`    ${line}`);
  }
}
console.log(
  `covered: ${Object.entries(tally)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([what, count]) => `${what} ${count}`)
    .join(', ')}`,
);
console.log(
  `simulation (${options.adapters}, ${options.profile} profile): ${options.seeds} seeds, ${crashes} crash points, ${violations} violations`,
);
process.exitCode = violations > 0 ? 1 : 0;

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return parsed;
  };
}
