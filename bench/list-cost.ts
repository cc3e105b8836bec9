// What one list page (the API's default 25 summaries) costs on Cosmos DB, before and after the list
// query projected the summary fields: a model figure (the published read curve of
// src/domain/request-unit-model.ts applied to the bytes the query returns), from the reference
// generator's records. A customer of the reference workload holds about 36 records, the last three
// months full documents and the rest stubs: its newest page is 3 full documents and 22 stubs (plus
// the one more record that tells whether a next page exists). Real charges: x-ms-request-charge.
import { toSummary } from '../src/domain/billing-record.ts';
import { fullDocument, toPersisted } from '../src/domain/record-document.ts';
import { estimateQueryUnits } from '../src/domain/request-unit-model.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import { benchRecords } from './support/bench-world.ts';

const PAGE = 25;
const HOT_IN_PAGE = 3;
/** A stub document as stored (summary fields, pointer, system fields). */
const STUB_BYTES = 500;

await runBenchmark('list-cost', ({ profile }) => {
  const records = [...benchRecords(profile.mode === 'quick' ? 2_000 : 20_000)];
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const fullBytes = mean(
    records.map((record) => Buffer.byteLength(JSON.stringify(toPersisted(fullDocument(record))))),
  );
  const summaryBytes = mean(records.map((record) => Buffer.byteLength(JSON.stringify(toSummary(record)))));
  const returned = PAGE + 1;
  const before = estimateQueryUnits(HOT_IN_PAGE * fullBytes + (returned - HOT_IN_PAGE) * STUB_BYTES);
  const after = estimateQueryUnits(returned * (summaryBytes + 20));
  const figures: Record<string, Figure> = {
    'api.listRuPerPage': {
      value: Math.round(after * 100) / 100,
      unit: 'RU',
      description: `a list page of ${PAGE} summaries, the query projecting the summary fields (model figure: bytes returned)`,
    },
    'api.listRuPerPageBefore': {
      value: Math.round(before * 100) / 100,
      unit: 'RU',
      description: `the same page when the query returned whole documents (${HOT_IN_PAGE} full of ${Math.round(fullBytes)} B mean, the rest stubs)`,
    },
  };
  return {
    figures,
    details: { fullBytes, summaryBytes, stubBytes: STUB_BYTES, page: PAGE, hotInPage: HOT_IN_PAGE },
  };
});
