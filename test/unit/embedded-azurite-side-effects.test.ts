// Azurite's Blob server, loaded into this process for the embedded archive, brings Azurite's own usage
// telemetry SDK (applicationinsights 2, never started here). That SDK, when loaded, patches `console`, the
// Azure SDK's tracing and OpenTelemetry's tracer provider to publish on its diagnostic channel: every span
// of this service would then pay for a publisher nobody reads. Loading the embedded Azurite must patch nothing.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

describe('the embedded Azurite', () => {
  it('loads without Azurite’s telemetry SDK patching console, the Azure SDK or OpenTelemetry', async () => {
    const log = console.log;
    // The SDK's own opt-out: unset here, so that only the adapter can have set it (and must have put it back).
    const optOut = process.env.APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL;
    delete process.env.APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL;
    const imported = import('../../src/adapters/azurite/embedded-azurite.ts');
    const { startEmbeddedAzurite } = await imported.finally(() => {
      if (optOut !== undefined) process.env.APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL = optOut;
    });
    expect(process.env.APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL).toBe(optOut);
    const azurite = await startEmbeddedAzurite({ folder: '', port: 0, inMemory: true });
    try {
      const loaded = Object.keys(require.cache);
      // Azurite's own telemetry client is loaded (it is part of its request pipeline) ...
      expect(loaded.some((path) => path.includes('/node_modules/applicationinsights/'))).toBe(true);
      // ... but its diagnostic-channel publishers, the patches, are not.
      expect(loaded.filter((path) => path.includes('/diagnostic-channel-publishers/'))).toEqual([]);
      expect(console.log).toBe(log);
    } finally {
      await azurite.stop();
    }
  });
});
