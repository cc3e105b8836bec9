// A logger that drops everything: the core logs through the port, tests read outcomes instead.
import type { Logger } from '../../src/ports/logger.ts';

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
