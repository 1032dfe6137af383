/**
 * Loads the handler bundles that ship (assets/<provider>/index.js), pointed at a KMS emulator
 * through the standard AWS environment variables, exactly as the Lambda runtime would load them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Emulator } from '../kms-emulator';

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export const KEY_MATERIAL_BUNDLE = 'key-material-provider';
export const CUSTOM_KEY_STORE_BUNDLE = 'custom-key-store-provider';

/** A loaded bundle: its exports by name. */
export type BundleModule = Record<string, unknown>;

export function bundlePath(bundle: string): string {
  return path.join(REPO_ROOT, 'assets', bundle, 'index.js');
}

export function bundleExists(bundle: string): boolean {
  return fs.existsSync(bundlePath(bundle));
}

/** The emulator's account and Region (its defaults unless the test started it otherwise). */
export interface EmulatorEnv {
  readonly region: string;
  readonly account: string;
}

export const EMULATOR_DEFAULT_ENV: EmulatorEnv = { region: 'us-east-1', account: '111122223333' };

/**
 * Points every AWS SDK client at the emulator (region, dummy credentials, per-service endpoints). A bundle
 * creates its clients when it is loaded, and the SDK reads region and endpoints from this environment on the
 * first call, as in a Lambda container.
 */
export function useEmulatorEnvironment(emulator: Emulator, env: EmulatorEnv = EMULATOR_DEFAULT_ENV): void {
  Object.assign(process.env, {
    AWS_REGION: env.region,
    AWS_DEFAULT_REGION: env.region,
    AWS_ACCESS_KEY_ID: 'AKIDLIFECYCLETEST',
    AWS_SECRET_ACCESS_KEY: 'lifecycle-test-secret',
    AWS_ENDPOINT_URL_KMS: emulator.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: emulator.endpoint,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}

declare const jest: { isolateModules(fn: () => void): void } | undefined;

/**
 * A fresh copy of a bundle: the bundles cache their SDK clients at module scope (as a warm Lambda
 * container does), so each emulator gets its own copy. Under jest the copy is loaded in jest's module
 * registry (so console spies see its output); elsewhere through Node's require cache.
 */
export function loadBundle(bundle: string): BundleModule {
  const file = bundlePath(bundle);
  if (!fs.existsSync(file)) {
    throw new Error(`${path.relative(REPO_ROOT, file)} does not exist: run 'node scripts/bundle.mjs' first`);
  }
  if (typeof jest !== 'undefined' && jest) {
    let loaded: BundleModule | undefined;
    jest.isolateModules(() => {
      loaded = require(file) as BundleModule;
    });
    return loaded!;
  }
  delete require.cache[require.resolve(file)];
  return require(file) as BundleModule;
}
