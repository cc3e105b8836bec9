// Issue 14 on the embedded default: SQLite hot store, the file archive, the SQLite control store. The
// hot store is lost by deleting its file. The scenario is in data-lifecycle.scenario.ts.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeDataLifecycleScenario } from './data-lifecycle.scenario.ts';

describeDataLifecycleScenario({
  label: 'the embedded stack',
  env: () => Promise.resolve({}),
  loseHotStore(dataDir) {
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(dataDir, `hot-store.sqlite${suffix}`), { force: true });
    return Promise.resolve();
  },
});
