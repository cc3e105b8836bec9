// The environment a deployed Function App starts with, as infra/main.bicep and main.parameters.json set
// it: each app setting the Bicep sets (at its schema example, or at a value given here), plus the
// per-environment overrides, plus what the Functions host sets itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeSetting, SETTING_NAMES, type SettingName } from '../../src/config/settings-schema.ts';
import { objectVarKeys, ROOT } from './bicep-source.ts';

export const MAIN_BICEP = 'infra/main.bicep';

export const isSettingName = (name: string): name is SettingName =>
  (SETTING_NAMES as readonly string[]).includes(name);

/** Every app setting name main.bicep sets, the Functions host's own included. */
export const bicepAppSettingNames = (): string[] => objectVarKeys(MAIN_BICEP, 'appSettings');

/** main.parameters.json's appSettingsOverrides. */
export function appSettingsOverrides(): Record<string, string> {
  const parameters = JSON.parse(readFileSync(join(ROOT, 'infra/main.parameters.json'), 'utf8')) as {
    parameters: { appSettingsOverrides: { value: Record<string, string> } };
  };
  return parameters.parameters.appSettingsOverrides.value;
}

/** The endpoints at local emulators and servers (loopback, so production allows them without TLS). */
export const LOCAL_ENDPOINTS: Partial<Record<SettingName, string>> = {
  COSMOS_ENDPOINT: 'https://127.0.0.1:8081/',
  BLOB_ACCOUNT_URL: 'http://127.0.0.1:10000/devstoreaccount1',
  ARCHIVE_QUEUE__QUEUESERVICEURI: 'http://127.0.0.1:10001/devstoreaccount1',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AUTH_JWKS_URI: 'http://127.0.0.1:8080/.well-known/jwks.json',
};

export function deployedEnvironment(
  values: Partial<Record<SettingName, string>> = {},
  without?: string,
): Record<string, string> {
  const env: Record<string, string> = { FUNCTIONS_WORKER_RUNTIME: 'node' };
  for (const name of bicepAppSettingNames()) {
    if (name !== without && isSettingName(name)) env[name] = values[name] ?? describeSetting(name).example;
  }
  return { ...env, ...appSettingsOverrides() };
}
