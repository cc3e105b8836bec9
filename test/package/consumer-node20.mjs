// On Node 20 (no node:sqlite) the package still loads; the embedded stores refuse with a message that
// says what to do. The Cosmos DB and Blob adapters are what a Node 20 service uses.
import assert from 'node:assert/strict';
import { openDataAccess } from 'billing-archive';

await assert.rejects(
  openDataAccess({
    settings: { DATA_DIR: process.env.DATA_DIR, EMBEDDED_ARCHIVE: 'files', LOG_LEVEL: 'silent' },
  }),
  /Node 22\.5 or later/,
);
process.stdout.write(`${JSON.stringify({ node: process.version, embedded: 'refused' })}\n`);
