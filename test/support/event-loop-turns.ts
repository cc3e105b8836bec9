// Counts the turns of the event loop while work runs: a long job over stores that answer without I/O
// must still let timers, signals and IPC in between its batches (archive-run.ts, job-service.ts).

export interface EventLoopTurns {
  /** Turns counted so far. */
  readonly turns: number;
  stop(): void;
}

/** Starts counting: an immediate that schedules itself again runs once per turn. */
export function countEventLoopTurns(): EventLoopTurns {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns += 1;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      counting = false;
    },
  };
}

/** Whether every sample is larger than the one before: the loop turned between each two. */
export function strictlyIncreasing(samples: readonly number[]): boolean {
  return samples.every((value, index) => index === 0 || value > samples[index - 1]!);
}
