// Azurite in a child process of its own, in memory, for the benchmarks' remote model: the modelled
// round trip stands for the service's work, so the emulator must not also spend the client's CPU (in
// the bench process, Azurite took about a third of the engine's CPU). Prints {connectionString} once
// it listens; stops on SIGTERM.
import { startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';

const azurite = await startEmbeddedAzurite({ folder: '', port: 0, inMemory: true });
console.log(JSON.stringify({ connectionString: azurite.connectionString }));
process.once('SIGTERM', () => {
  void azurite.stop().then(() => process.exit(0));
});
