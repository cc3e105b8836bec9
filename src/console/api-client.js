// Every call of the console goes through here: the admin API with the signed-in bearer token.
// A refusal arrives as problem+json; it is thrown as an ApiProblem carrying its `detail` and `code`.

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem.code ?? `HTTP_${status}`;
    this.detail = problem.detail ?? problem.title ?? `The API answered ${status}`;
    /** Validation problems name each failing field. */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export function createApiClient(currentToken) {
  async function call(method, path, body, { accept = 'application/json' } = {}) {
    const headers = { accept };
    const token = currentToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiProblem(0, { code: 'NETWORK', detail: `The API did not answer: ${error.message}` });
    }
    if (!response.ok) {
      // Anything but problem+json (a proxy's HTML page, say) still shows its status.
      const problem = await response
        .json()
        .catch(() => ({ detail: `${response.status} ${response.statusText}` }));
      throw new ApiProblem(response.status, problem);
    }
    return response;
  }
  return {
    async json(method, path, body) {
      const response = await call(method, path, body);
      return response.status === 204 ? null : response.json();
    },
    /** The response itself, for its headers (ETag, x-storage-tier) or a stream (an export). */
    raw: call,
  };
}

/** The value of one Prometheus series in /metrics (a gauge the admin API has no JSON for). */
export function metricValue(text, name) {
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  if (line === undefined) return undefined;
  const value = Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(value) ? value : undefined;
}
