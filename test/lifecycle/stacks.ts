/**
 * CDK apps for the lifecycle tests, synthesized in process to the template the driver plays.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AdoptedCustomKeyStore, CustomKeyStore, ExternalKey, ImportedKeyMaterial, KeyMaterial, KeyMaterialExpiration, KeysRemainingBehaviour, KeyStoreBackend, MaterialEncoding,
} from '../../lib';
import { EMULATOR_DEFAULT_ENV } from './bundles';
import type { DriverTemplate } from './driver';
import type { Construct } from 'constructs';

export const STACK_ENV = { account: EMULATOR_DEFAULT_ENV.account, region: EMULATOR_DEFAULT_ENV.region };

/** A stack in its own app; `outdir` is where `app.synth()` writes the cloud assembly. */
export function newStack(id = 'Lifecycle', outdir?: string): Stack {
  return new Stack(new App(outdir ? { outdir } : {}), id, { env: STACK_ENV });
}

export function synth(stack: Stack): DriverTemplate {
  return CdkTemplate.fromStack(stack).toJSON() as DriverTemplate;
}

export interface KeyMaterialStackOptions {
  readonly keySpec?: kms.KeySpec;
  readonly keyUsage?: kms.KeyUsage;
  readonly multiRegion?: boolean;
  /** Which in-stack secret holds the material: MaterialA (default) or MaterialB. 'none': no material. */
  readonly source?: 'MaterialA' | 'MaterialB' | 'none';
  readonly encoding?: MaterialEncoding;
  readonly expiration?: Date;
  /** Material expires this long after each import (`KeyMaterialExpiration.after`). */
  readonly validFor?: Duration;
  readonly materialRemovalPolicy?: RemovalPolicy;
  /** @default DESTROY (the test keys are scheduled for deletion on destroy) */
  readonly removalPolicy?: RemovalPolicy;
  readonly description?: string;
  /** Also manage the material of this key made outside the stack (ImportedKeyMaterial, delete only). */
  readonly foreignKeyArn?: string;
  /** materialRemovalPolicy of the foreign key's ImportedKeyMaterial. @default DESTROY */
  readonly foreignMaterialRemovalPolicy?: RemovalPolicy;
  /** Leave out the ExternalKey (AppKey). @default false */
  readonly withoutAppKey?: boolean;
  /** Also adopt this custom key store (AdoptedCustomKeyStore 'Adopted'). */
  readonly adoptedStoreId?: string;
  /**
   * Also create an external key store with this name, after every other custom resource (it depends on them):
   * a name already in use fails the deployment for a reason that has nothing to do with keys.
   */
  readonly lastStoreName?: string;
  /** Construct id of the key (a new id replaces the key and its material resource). @default AppKey */
  readonly keyId?: string;
  /** Cloud assembly directory of the app. @default a temporary one */
  readonly outdir?: string;
}

/**
 * A stack with two material secrets (MaterialA, MaterialB) and an ExternalKey (AppKey) whose material
 * comes from one of them.
 */
export function keyMaterialStack(options: KeyMaterialStackOptions = {}): Stack {
  const stack = newStack('Lifecycle', options.outdir);
  const secrets = {
    MaterialA: new secretsmanager.Secret(stack, 'MaterialA'),
    MaterialB: new secretsmanager.Secret(stack, 'MaterialB'),
  };
  const source = options.source ?? 'MaterialA';
  const dependencies: Construct[] = [];
  if (!options.withoutAppKey) {
    const key = new ExternalKey(stack, options.keyId ?? 'AppKey', {
      keySpec: options.keySpec,
      keyUsage: options.keyUsage,
      multiRegion: options.multiRegion,
      description: options.description,
      material: source === 'none' ? undefined : KeyMaterial.fromSecret(secrets[source], options.encoding ? { encoding: options.encoding } : {}),
      expiration: options.expiration ? KeyMaterialExpiration.at(options.expiration)
        : options.validFor ? KeyMaterialExpiration.after(options.validFor) : undefined,
      materialRemovalPolicy: options.materialRemovalPolicy,
      removalPolicy: options.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    dependencies.push(key.keyMaterial);
  }
  if (options.foreignKeyArn) {
    dependencies.push(new ImportedKeyMaterial(stack, 'Foreign', {
      key: kms.Key.fromKeyArn(stack, 'ForeignKey', options.foreignKeyArn),
      materialRemovalPolicy: options.foreignMaterialRemovalPolicy,
    }));
  }
  if (options.adoptedStoreId) {
    dependencies.push(new AdoptedCustomKeyStore(stack, 'Adopted', { customKeyStoreId: options.adoptedStoreId }));
  }
  if (options.lastStoreName) {
    const last = new CustomKeyStore(stack, 'LastStore', {
      customKeyStoreName: options.lastStoreName,
      backend: KeyStoreBackend.externalKeyStore({
        proxyUriEndpoint: 'https://xks.example.com',
        proxyUriPath: `/${options.lastStoreName}/kms/xks/v1`,
        proxyAuthenticationCredential: new secretsmanager.Secret(stack, XKS_CREDENTIAL_SECRET),
      }),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    for (const d of dependencies) last.node.addDependency(d);
  }
  return stack;
}

export function keyMaterialTemplate(options: KeyMaterialStackOptions = {}): DriverTemplate {
  return synth(keyMaterialStack(options));
}

export interface StoreStackOptions {
  readonly type: 'XKS' | 'CLOUDHSM';
  readonly name?: string;
  readonly connect?: boolean;
  /** @default DESTROY (so that destroy deletes the store) */
  readonly removalPolicy?: RemovalPolicy;
  readonly keysRemaining?: KeysRemainingBehaviour;
  /** XKS: the proxy URI path. @default /kms/xks/v1 */
  readonly proxyUriPath?: string;
  /** Construct id of the store. @default Store */
  readonly storeId?: string;
  /** Cloud assembly directory of the app. @default a temporary one */
  readonly outdir?: string;
}

export const XKS_CREDENTIAL_SECRET = 'XksCredential';
export const KMSUSER_PASSWORD_SECRET = 'KmsUserPassword';

/** A stack with one custom key store whose secret (XKS credential or kmsuser password) is in the stack. */
export function storeStack(options: StoreStackOptions): Stack {
  const stack = newStack('Lifecycle', options.outdir);
  const backend = options.type === 'XKS'
    ? KeyStoreBackend.externalKeyStore({
      proxyUriEndpoint: 'https://xks.example.com',
      proxyUriPath: options.proxyUriPath ?? '/kms/xks/v1',
      proxyAuthenticationCredential: new secretsmanager.Secret(stack, XKS_CREDENTIAL_SECRET),
    })
    : KeyStoreBackend.cloudHsm({
      clusterId: 'cluster-abcdefghijk',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIBlifecycletest\n-----END CERTIFICATE-----\n',
      kmsUserPassword: new secretsmanager.Secret(stack, KMSUSER_PASSWORD_SECRET),
    });
  new CustomKeyStore(stack, options.storeId ?? 'Store', {
    customKeyStoreName: options.name ?? 'lifecycle-store',
    backend,
    connect: options.connect,
    removalPolicy: options.removalPolicy ?? RemovalPolicy.DESTROY,
    keysRemaining: options.keysRemaining,
  });
  return stack;
}

export function storeTemplate(options: StoreStackOptions): DriverTemplate {
  return synth(storeStack(options));
}
