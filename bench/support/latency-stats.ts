// Latency samples and the A/B comparison every read benchmark uses: baseline and subject run in
// alternating blocks (ABBA...) on the same keys, in the same process, so drift, GC and cache warmth
// fall on both sides alike; the figure is the ratio of their percentiles.

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentiles: each figure is a measured sample, never an interpolation. */
export function summarize(samplesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  const at = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    meanMs: round(total / Math.max(1, sorted.length), 4),
    p50Ms: round(at(50), 4),
    p90Ms: round(at(90), 4),
    p99Ms: round(at(99), 4),
    maxMs: round(sorted[sorted.length - 1] ?? 0, 4),
  };
}

/** The median (the lower one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface Comparison {
  readonly concurrency: number;
  readonly baseline: LatencySummary;
  readonly subject: LatencySummary;
  /** subject / baseline at p50 and p99: 1.00 means no overhead. */
  readonly p50Ratio: number;
  readonly p99Ratio: number;
  /** Operations per second each side sustained while its blocks ran. */
  readonly baselineOpsPerSecond: number;
  readonly subjectOpsPerSecond: number;
}

export interface CompareOptions<K> {
  readonly keys: readonly K[];
  readonly baseline: (key: K) => Promise<unknown>;
  readonly subject: (key: K) => Promise<unknown>;
  /** Operations measured per side (after warm-up). */
  readonly operations: number;
  readonly concurrency: number;
  /** Operations per block; both sides run the same keys block by block. */
  readonly blockSize?: number;
  /** Told after each round, with the share of the work done. */
  readonly onProgress?: (done: number) => void;
}

/**
 * Runs baseline and subject in alternating blocks over the same keys. Within a block, `concurrency`
 * workers keep that many operations in flight; each operation's latency is its own start to finish.
 * Blocks never mix the two sides, so at concurrency 32 neither side's queue holds the other's work.
 */
export async function compareLatency<K>(options: CompareOptions<K>): Promise<Comparison> {
  const { keys, concurrency } = options;
  const blockSize = Math.max(concurrency * 4, options.blockSize ?? 200);
  const samples = { baseline: [] as number[], subject: [] as number[] };
  const busyMs = { baseline: 0, subject: 0 };
  let cursor = 0;
  const nextBlock = (): K[] => {
    const block: K[] = [];
    for (let i = 0; i < blockSize; i++) block.push(keys[(cursor + i) % keys.length]!);
    cursor = (cursor + blockSize) % keys.length;
    return block;
  };
  const runBlock = async (
    side: 'baseline' | 'subject',
    block: readonly K[],
    record: boolean,
  ): Promise<void> => {
    const work = options[side];
    let next = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (next < block.length) {
        const key = block[next++]!;
        const t0 = performance.now();
        await work(key);
        if (record) samples[side].push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (record) busyMs[side] += performance.now() - started;
  };
  // Warm-up: one block each (JIT, statement caches, connection pools), not recorded.
  const warm = nextBlock();
  await runBlock('baseline', warm, false);
  await runBlock('subject', warm, false);
  const rounds = Math.ceil(options.operations / blockSize);
  for (let round = 0; round < rounds; round++) {
    const block = nextBlock();
    // ABBA: the side that goes first alternates, so neither always runs on a fresher heap.
    const order: Array<'baseline' | 'subject'> =
      round % 2 === 0 ? ['baseline', 'subject'] : ['subject', 'baseline'];
    for (const side of order) await runBlock(side, block, true);
    options.onProgress?.((round + 1) / rounds);
  }
  const baseline = summarize(samples.baseline);
  const subject = summarize(samples.subject);
  return {
    concurrency,
    baseline,
    subject,
    p50Ratio: round(subject.p50Ms / baseline.p50Ms),
    p99Ratio: round(subject.p99Ms / baseline.p99Ms),
    baselineOpsPerSecond: Math.round((samples.baseline.length / busyMs.baseline) * 1000),
    subjectOpsPerSecond: Math.round((samples.subject.length / busyMs.subject) * 1000),
  };
}
