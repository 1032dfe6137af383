/**
 * Template cost per key and CloudFormation / IAM / KMS / Lambda limits, for the shapes a team with many
 * imported-material keys can choose between. Synthesized in process; sizes are minified JSON bytes.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { ExternalKey, ImportedKeyMaterial, KeyMaterial, KeyMaterialExpiration } from '../lib';
import { resolve, Template } from '../test/util/template';

export type Shape = 'floor' | 'workaround' | 'externalKey' | 'externalKeyWithMaterial' | 'foreignKeys';

export const SHAPES: Record<Shape, string> = {
  floor: 'floor: `kms.Key` with Origin EXTERNAL (nothing deletes its material)',
  workaround: 'workaround: floor + one `AwsCustomResource` per key (DeleteImportedKeyMaterial on delete)',
  externalKey: '`ExternalKey` without material',
  externalKeyWithMaterial: '`ExternalKey` with material (one secret per key, made outside the stack: `Secret.fromSecretCompleteArn`)',
  foreignKeys: '`ImportedKeyMaterial` on `kms.Key.fromKeyArn` keys',
};

const ENV = { account: '111122223333', region: 'us-east-1' };

function floorKey(stack: Stack, i: number): kms.Key {
  const key = new kms.Key(stack, `Key${i}`, { removalPolicy: RemovalPolicy.DESTROY });
  (key.node.defaultChild as kms.CfnKey).origin = 'EXTERNAL';
  return key;
}

/**
 * The secret of key i, made outside the stack: an in-stack secret per key would cost a resource per key
 * (3 per key in all: 240 keys need 736 resources), so teams with hundreds of keys keep them elsewhere.
 */
export function materialSecret(stack: Stack, i: number, arn = materialSecretArn(i)): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretCompleteArn(stack, `Material${i}`, arn);
}

export function materialSecretArn(i: number): string {
  return `arn:aws:secretsmanager:${ENV.region}:${ENV.account}:secret:bench/key-material-${i}-AbCdEf`;
}

export interface ShapeOptions {
  /** Complete ARNs of the material secrets (by key index). @default made-up ARNs */
  readonly secretArns?: string[];
  /** Expiration of the material. @default never */
  readonly expiration?: KeyMaterialExpiration;
}

/** A stack of the shape with `n` keys (n = 0: the same stack without keys, the baseline). */
export function shapeStack(shape: Shape, n: number, options: ShapeOptions = {}): Stack {
  const stack = new Stack(new App(), 'Bench', { env: ENV });
  for (let i = 0; i < n; i++) {
    switch (shape) {
      case 'floor':
        floorKey(stack, i);
        break;
      case 'workaround': {
        const key = floorKey(stack, i);
        new cr.AwsCustomResource(stack, `Shred${i}`, {
          onDelete: { service: 'KMS', action: 'deleteImportedKeyMaterial', parameters: { KeyId: key.keyId } },
          policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [key.keyArn] }),
          installLatestAwsSdk: false,
        });
        break;
      }
      case 'externalKey':
        new ExternalKey(stack, `Key${i}`, { removalPolicy: RemovalPolicy.DESTROY });
        break;
      case 'externalKeyWithMaterial':
        new ExternalKey(stack, `Key${i}`, {
          removalPolicy: RemovalPolicy.DESTROY,
          material: KeyMaterial.fromSecret(materialSecret(stack, i, options.secretArns?.[i])),
          expiration: options.expiration,
        });
        break;
      case 'foreignKeys': {
        const id = `${i.toString(16).padStart(8, '0')}-1234-4abc-8def-1234567890ab`;
        new ImportedKeyMaterial(stack, `Shred${i}`, { key: kms.Key.fromKeyArn(stack, `Key${i}`, `arn:aws:kms:${ENV.region}:${ENV.account}:key/${id}`) });
        break;
      }
    }
  }
  return stack;
}

export function synthTemplate(stack: Stack): Template {
  return CdkTemplate.fromStack(stack).toJSON() as Template;
}

export function templateBytes(template: unknown): number {
  return Buffer.byteLength(JSON.stringify(template), 'utf8');
}

/** The limits of build item 3, with where each is measured. */
export const LIMITS = {
  resources: 500,
  templateBytes: 1_048_576,
  inlinePolicyPerRole: 10_240,
  managedPolicyChars: 6_144,
  managedPoliciesPerRole: 10,
  keyPolicyBytes: 32_768,
  lambdaEnvBytes: 4_096,
} as const;

export type LimitName = keyof typeof LIMITS;

export interface LimitReport {
  /** The largest value of each measure in the template. */
  readonly max: Record<LimitName, number>;
  /** Measures over their limit, with where. */
  readonly broken: string[];
}

/** IAM counts policy characters without whitespace; values are resolved to concrete ARNs first. */
function policyChars(template: Template, doc: unknown): number {
  return JSON.stringify(resolve(template, doc)).replace(/\s/g, '').length;
}

function refsTo(value: unknown, logicalId: string): boolean {
  return JSON.stringify(value ?? null).includes(`"${logicalId}"`);
}

export function checkLimits(template: Template): LimitReport {
  const resources = Object.entries(template.Resources);
  const max: Record<LimitName, number> = {
    resources: resources.length, templateBytes: templateBytes(template), inlinePolicyPerRole: 0, managedPolicyChars: 0,
    managedPoliciesPerRole: 0, keyPolicyBytes: 0, lambdaEnvBytes: 0,
  };
  const broken: string[] = [];
  const over = (name: LimitName, value: number, where: string) => {
    max[name] = Math.max(max[name], value);
    if (value > LIMITS[name]) broken.push(`${name} ${value} > ${LIMITS[name]} (${where})`);
  };
  over('resources', max.resources, 'stack');
  over('templateBytes', max.templateBytes, 'stack');
  for (const [roleId, role] of resources.filter(([, r]) => r.Type === 'AWS::IAM::Role')) {
    let inline = 0;
    for (const p of (role.Properties?.Policies ?? []) as Array<{ PolicyDocument: unknown }>) inline += policyChars(template, p.PolicyDocument);
    let managed = ((role.Properties?.ManagedPolicyArns ?? []) as unknown[]).length;
    for (const [, r] of resources) {
      if (r.Type === 'AWS::IAM::Policy' && refsTo(r.Properties?.Roles, roleId)) inline += policyChars(template, r.Properties?.PolicyDocument);
      if (r.Type === 'AWS::IAM::ManagedPolicy' && refsTo(r.Properties?.Roles, roleId)) managed++;
    }
    over('inlinePolicyPerRole', inline, roleId);
    over('managedPoliciesPerRole', managed, roleId);
  }
  for (const [id, r] of resources) {
    if (r.Type === 'AWS::IAM::ManagedPolicy') over('managedPolicyChars', policyChars(template, r.Properties?.PolicyDocument), id);
    if (r.Type === 'AWS::KMS::Key') over('keyPolicyBytes', Buffer.byteLength(JSON.stringify(resolve(template, r.Properties?.KeyPolicy ?? {}))), id);
    if (r.Type === 'AWS::Lambda::Function') {
      const vars = (r.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
      // Lambda counts the keys and values of the variables.
      const bytes = Object.entries(resolve(template, vars) as Record<string, unknown>).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
      over('lambdaEnvBytes', bytes, id);
    }
  }
  return { max, broken };
}

export interface ShapeRow {
  readonly shape: Shape;
  readonly n: number;
  /** Set when synthesis itself refuses the stack (the first line of its error). */
  readonly synthError?: string;
  readonly bytes: number;
  /** (bytes(n) − bytes(0)) / n */
  readonly bytesPerKey: number;
  readonly limits: LimitReport;
}

export function measureShape(shape: Shape, n: number, baselineBytes: number): ShapeRow {
  let template: Template;
  try {
    template = synthTemplate(shapeStack(shape, n));
  } catch (e) {
    const synthError = String((e as Error).message).split('\n')[0];
    return { shape, n, synthError, bytes: NaN, bytesPerKey: NaN, limits: { max: {} as Record<LimitName, number>, broken: [synthError] } };
  }
  const bytes = templateBytes(template);
  return { shape, n, bytes, bytesPerKey: (bytes - baselineBytes) / n, limits: checkLimits(template) };
}

/** The smallest n in [lo, hi] at which the shape breaks a limit (binary search), or undefined. */
export function firstBreak(shape: Shape, lo: number, hi: number): { n: number; broken: string[] } | undefined {
  const at = (n: number) => {
    try {
      return checkLimits(synthTemplate(shapeStack(shape, n))).broken;
    } catch (e) {
      return [`synth: ${String((e as Error).message).split('\n')[0]}`];
    }
  };
  if (at(hi).length === 0) return undefined;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid).length > 0) hi = mid;
    else lo = mid + 1;
  }
  return { n: lo, broken: at(lo) };
}
