// The API's ETag is the record's own version, never the store's etag (which archival changes).

export function etagOf(version: number): string {
  return `"${version}"`;
}

/** If-Match uses the strong comparison: `*` matches any existing record, weak tags never match. */
export function ifMatchSatisfied(header: string, version: number): boolean {
  return parseEtagList(header).some((tag) => tag === '*' || tag === etagOf(version));
}

/** If-None-Match uses the weak comparison: `W/"3"` matches version 3. */
export function ifNoneMatchSatisfied(header: string, version: number): boolean {
  return parseEtagList(header).some((tag) => tag === '*' || tag.replace(/^W\//, '') === etagOf(version));
}

function parseEtagList(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}
