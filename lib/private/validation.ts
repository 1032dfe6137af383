import { Stack, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';

/** True when the value is a literal string known at synth time. */
export function isLiteral(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

/** Throws `<what> must <rule>, got '<value>'` when a literal value breaks a pattern. */
export function validatePattern(what: string, value: string | undefined, pattern: RegExp, rule: string): void {
  if (isLiteral(value) && !pattern.test(value)) {
    throw new Error(`${what} must ${rule}, got '${value}'`);
  }
}

/** How a value that is not what was expected looks, for an error message (never more than 100 characters of it). */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string '${value.length > 100 ? `${value.slice(0, 100)}...` : value}'`;
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  const keys = Object.keys(value).slice(0, 5);
  return `an object${keys.length ? ` with keys ${keys.join(', ')}` : ' with no keys'}`;
}

/**
 * Fails at synth time for a key reference that names something else than a key of this stack's Region:
 * an alias (ARN or `kms.Alias`), or a key ARN of another Region.
 */
export function validateKeyReference(scope: Construct, key: kms.IKey): void {
  const keyArn = key.keyArn;
  // Token-concatenated ARNs (kms.Alias.fromAliasName) keep their literal fragments: ':alias/' is visible.
  if (typeof (key as Partial<kms.IAlias>).aliasName === 'string' || (typeof keyArn === 'string' && keyArn.includes(':alias/'))) {
    const name = (key as Partial<kms.IAlias>).aliasName ?? keyArn;
    throw new Error(`${scope.node.path}: key must be a KMS key, got the alias ${name}. Imported material belongs to the key itself: ` +
      'pass kms.Key.fromKeyArn(this, id, keyArn) with the key ARN (arn:aws:kms:<region>:<account>:key/<key id>), which `aws kms describe-key --key-id <alias>` shows.');
  }
  const stack = Stack.of(scope);
  const keyRegion = key.env.region;
  if (!Token.isUnresolved(keyRegion) && !Token.isUnresolved(stack.region) && keyRegion !== stack.region) {
    throw new Error(`${scope.node.path}: key ${keyArn} is in Region ${keyRegion}, but this stack deploys to Region ${stack.region}; ` +
      `the handler manages key material in its own Region. Manage the material from a stack in ${keyRegion}.`);
  }
}

/** Which construct manages the material of each key, per app (by key ARN when it is literal, else by key construct). */
const materialOwners = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Fails when a second material resource is declared for one key: both would import and delete the same
 * material, and the first destroy would shred what the other still manages.
 */
export function claimKeyMaterial(scope: Construct, key: kms.IKey, cfnKey: kms.CfnKey | undefined): void {
  const root = scope.node.root;
  let owners = materialOwners.get(root);
  if (!owners) {
    owners = new Map();
    materialOwners.set(root, owners);
  }
  const id = cfnKey ? `construct:${cfnKey.node.path}` : isLiteral(key.keyArn) ? `arn:${key.keyArn}` : `construct:${key.node.path}`;
  const owner = owners.get(id);
  if (owner !== undefined && owner !== scope.node.path) {
    throw new Error(`${scope.node.path}: the material of key ${cfnKey ? cfnKey.node.path : key.keyArn} is already managed by ${owner}; ` +
      'one key takes one material resource (an ExternalKey manages its own: use its keyMaterial). Remove one of them.');
  }
  owners.set(id, scope.node.path);
}

/** Which construct uses each custom key store name, per app, by account, Region and name. */
const storeNames = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Fails when two custom key stores of one account and Region get the same literal name: KMS refuses the
 * second (names are unique in an account and Region). Stacks whose account or Region is not known at synth
 * time only compare with stores of the same stack.
 */
export function claimStoreName(scope: Construct, name: string): void {
  if (!isLiteral(name)) return;
  const stack = Stack.of(scope);
  const where = !Token.isUnresolved(stack.account) && !Token.isUnresolved(stack.region)
    ? `${stack.account}/${stack.region}` : `stack:${stack.node.path}`;
  const root = scope.node.root;
  let names = storeNames.get(root);
  if (!names) {
    names = new Map();
    storeNames.set(root, names);
  }
  const key = `${where}/${name}`;
  const owner = names.get(key);
  if (owner !== undefined && owner !== scope.node.path) {
    throw new Error(`${scope.node.path}: customKeyStoreName '${name}' is already used by ${owner} in the same account and Region; ` +
      'KMS requires a unique custom key store name per account and Region. Give each store its own name.');
  }
  names.set(key, scope.node.path);
}
