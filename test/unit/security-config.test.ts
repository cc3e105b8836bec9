// The security settings: production refuses non-TLS remote endpoints at start, naming each setting,
// unless ALLOW_INSECURE_ENDPOINTS accepts them (then listed for the loud start-up warning); TLS needs a
// certificate and a key; the audit store follows the archive; Redis Entra ID auth needs REDIS_URL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/app-config.ts';

const azure = {
  COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
  BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
  AUTH_JWKS_URI: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
  AUTH_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
  AUTH_AUDIENCE: 'api://billing',
};

function problemsOf(env: Readonly<Record<string, string | undefined>>): readonly string[] {
  try {
    loadConfig(env, '/srv/app');
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('production refuses clear-text remote endpoints', () => {
  const insecure = {
    ...azure,
    COSMOS_ENDPOINT: 'http://cosmos.internal:8081/',
    BLOB_ACCOUNT_URL: 'http://blob.internal',
    REDIS_URL: 'redis://cache.internal:6379',
  };

  it('names every such setting under NODE_ENV=production and under Functions', () => {
    for (const mode of [{ NODE_ENV: 'production' }, { FUNCTIONS_WORKER_RUNTIME: 'node' }]) {
      const problems = problemsOf({ ...insecure, ...mode }).join('\n');
      for (const name of ['COSMOS_ENDPOINT', 'BLOB_ACCOUNT_URL', 'REDIS_URL'])
        expect(problems).toContain(name);
      expect(problems).toContain('ALLOW_INSECURE_ENDPOINTS');
    }
  });

  it('allows loopback emulators and everything outside production', () => {
    expect(problemsOf(insecure)).toEqual([]);
    expect(
      problemsOf({
        ...azure,
        NODE_ENV: 'production',
        COSMOS_ENDPOINT: 'http://127.0.0.1:8081/',
        REDIS_URL: 'redis://localhost:6379',
      }),
    ).toEqual([]);
  });

  it('accepts them with the explicit override, listed for the start-up warning', () => {
    const config = loadConfig(
      { ...insecure, NODE_ENV: 'production', ALLOW_INSECURE_ENDPOINTS: 'true' },
      '/srv/app',
    );
    expect(config.security.production).toBe(true);
    expect(config.security.insecureEndpoints).toEqual([
      'COSMOS_ENDPOINT is not TLS (http:)',
      'BLOB_ACCOUNT_URL is not TLS (http:)',
      'REDIS_URL is not TLS (redis:)',
    ]);
  });

  it('refuses an http blob connection string and disabled certificate checks in production', () => {
    const problems = problemsOf({
      ...azure,
      BLOB_ACCOUNT_URL: '',
      BLOB_CONNECTION_STRING:
        'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k;BlobEndpoint=http://blob.internal/a;',
      COSMOS_ALLOW_INSECURE_TLS: 'true',
      NODE_ENV: 'production',
    }).join('\n');
    expect(problems).toContain('BLOB_CONNECTION_STRING');
    expect(problems).toContain('COSMOS_ALLOW_INSECURE_TLS');
  });
});

describe('TLS, audit and Redis settings', () => {
  it('needs the certificate and the key together, and readable', () => {
    expect(problemsOf({ TLS_CERT_PATH: '/nowhere/cert.pem' })).toEqual([
      'set TLS_CERT_PATH and TLS_KEY_PATH together',
    ]);
    const problems = problemsOf({ TLS_CERT_PATH: '/nowhere/cert.pem', TLS_KEY_PATH: '/nowhere/key.pem' });
    expect(problems.join('\n')).toMatch(/TLS_CERT_PATH must name a readable PEM file[\s\S]*TLS_KEY_PATH/);
    const folder = mkdtempSync(join(tmpdir(), 'tls-config-'));
    writeFileSync(join(folder, 'c.pem'), 'x');
    writeFileSync(join(folder, 'k.pem'), 'x');
    expect(loadConfig({ TLS_CERT_PATH: 'c.pem', TLS_KEY_PATH: 'k.pem' }, folder).tls).toEqual({
      certPath: join(folder, 'c.pem'),
      keyPath: join(folder, 'k.pem'),
    });
    rmSync(folder, { recursive: true, force: true });
  });

  it('keeps the audit in the data folder when embedded, in append blobs with Blob Storage', () => {
    expect(loadConfig({}, '/srv/app').audit).toEqual({ kind: 'sqlite', path: '/srv/app/.data/audit.sqlite' });
    expect(loadConfig(azure, '/srv/app').audit).toEqual({ kind: 'blob', container: 'billing-audit' });
  });

  it('takes Redis Entra ID auth only with REDIS_URL', () => {
    expect(problemsOf({ REDIS_ENTRA_OBJECT_ID: 'oid' })).toEqual(['REDIS_ENTRA_OBJECT_ID needs REDIS_URL']);
    expect(
      loadConfig({ REDIS_URL: 'rediss://c:6380', REDIS_ENTRA_OBJECT_ID: 'oid' }, '/srv').cache,
    ).toMatchObject({
      kind: 'redis',
      entraObjectId: 'oid',
    });
  });
});
