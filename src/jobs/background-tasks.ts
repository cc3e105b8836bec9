// Long work started by a request and answered at once (202): each task has an id, a cancellation
// signal, and a promise the process waits for on shutdown. The caller persists the task's first
// report before starting it, so the id answers from the moment the 202 is sent.
import type { Logger } from '../ports/logger.ts';

export class BackgroundTasks<R> {
  readonly #running = new Map<string, { controller: AbortController; done: Promise<R> }>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Runs `work` in the background under `id`; a crash is logged, never unhandled. */
  start(id: string, work: (signal: AbortSignal) => Promise<R>): void {
    const controller = new AbortController();
    const done = work(controller.signal).finally(() => this.#running.delete(id));
    this.#running.set(id, { controller, done });
    done.catch((error: unknown) => this.#log.error({ taskId: id, err: error }, 'background task crashed'));
  }

  /** The task's result when this process runs it; undefined when it does not (finished, or elsewhere). */
  wait(id: string): Promise<R> | undefined {
    return this.#running.get(id)?.done;
  }

  /** Cancels every running task (they stop at their next checkpoint) and waits for them. */
  async shutdown(): Promise<void> {
    for (const { controller } of this.#running.values()) controller.abort();
    await Promise.allSettled([...this.#running.values()].map((task) => task.done));
  }
}
