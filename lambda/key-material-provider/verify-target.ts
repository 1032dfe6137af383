/**
 * Verifies the target key before anything is imported or promised (Create, and any Update that changes the key):
 * it must exist and be an EXTERNAL-origin key of this stack's account and Region, with the key spec and
 * multi-Region setting it was declared with. Otherwise the request fails with what was found and what to do,
 * instead of deploying a resource whose destroy would "delete" nothing.
 */
import { DescribeKeyCommand, KeyMetadata } from '@aws-sdk/client-kms';
import { KeyMaterialResourceProperties } from '../../lib/private/key-material-contract';
import { kms } from '../shared/clients';
import { errorName } from '../shared/errors';
import { KeyMaterialContext } from './context';
import { HandlerError, kmsFailure } from './errors';

/** The account and Region of a stack, from its stack id (an ARN). */
export function stackEnvironment(stackId: string): { account: string; region: string } | undefined {
  const m = /^arn:aws[a-z-]*:cloudformation:([^:]+):(\d{12}):stack\//.exec(stackId);
  return m ? { region: m[1], account: m[2] } : undefined;
}

interface Expected {
  readonly props: KeyMaterialResourceProperties;
  readonly stackId: string;
  readonly logicalResourceId: string;
}

function head(e: Expected): string {
  return `Resource ${e.logicalResourceId} cannot manage the material of key ${e.props.KeyArn}:`;
}

/** What is wrong with the KeyArn itself (alias, other account or Region), before calling KMS; undefined when nothing. */
export function keyArnProblem(e: Expected): string | undefined {
  const arn = /^arn:aws[a-z-]*:kms:([^:]*):(\d{12}):(key|alias)\/(.+)$/.exec(e.props.KeyArn);
  if (!arn) return undefined; // a bare key id: DescribeKey decides
  const [, region, account, kind] = arn;
  if (kind === 'alias') {
    return `${head(e)} it is an alias ARN, and imported material is managed on the key itself. Pass the key ARN (arn:aws:kms:${region}:${account}:key/<key id>); ` +
      `aws kms describe-key --key-id ${e.props.KeyArn} shows it.`;
  }
  const stack = stackEnvironment(e.stackId);
  if (stack && account !== stack.account) {
    return `${head(e)} the key is in account ${account}, but the stack is in account ${stack.account}; KMS does not import or delete key material across accounts. Manage the material from a stack in account ${account}.`;
  }
  if (stack && region !== stack.region) {
    return `${head(e)} the key is in Region ${region}, but the stack is in Region ${stack.region}; the handler calls KMS in its own Region. Manage the material from a stack in ${region}.`;
  }
  return undefined;
}

/** What is wrong with the key KMS described (undefined: it is the declared target). */
export function keyMetadataProblem(e: Expected, key: KeyMetadata): string | undefined {
  const found = `found ${key.Origin ?? 'unknown origin'}, ${key.KeySpec ?? 'unknown key spec'}, ${key.MultiRegion ? 'multi-Region' : 'single-Region'}, ${key.KeyState ?? 'unknown state'}`;
  if (key.Origin !== 'EXTERNAL') {
    return `${head(e)} its Origin is ${key.Origin ?? 'unknown'}, and only keys with Origin EXTERNAL hold imported material (${found}). ` +
      'Check the ARN, or use a key created with Origin EXTERNAL (ExternalKey).';
  }
  const stack = stackEnvironment(e.stackId);
  if (stack && key.AWSAccountId && key.AWSAccountId !== stack.account) {
    return `${head(e)} the key is in account ${key.AWSAccountId}, but the stack is in account ${stack.account}; KMS does not import or delete key material across accounts.`;
  }
  const region = key.Arn ? key.Arn.split(':')[3] : undefined;
  if (stack && region && region !== stack.region) {
    return `${head(e)} the key is in Region ${region}, but the stack is in Region ${stack.region}. Manage the material from a stack in ${region}.`;
  }
  if (key.KeySpec && key.KeySpec !== e.props.KeySpec) {
    return `${head(e)} it was declared ${e.props.KeySpec}, but KMS says its key spec is ${key.KeySpec} (${found}). ` +
      `Set keySpec to ${key.KeySpec} (material is wrapped and checked for the key spec), or check the ARN.`;
  }
  const declaredMultiRegion = e.props.MultiRegion === 'true';
  if (key.MultiRegion !== undefined && key.MultiRegion !== declaredMultiRegion) {
    return `${head(e)} it was declared ${declaredMultiRegion ? 'multi-Region' : 'single-Region'}, but KMS says it is ${key.MultiRegion ? 'multi-Region' : 'single-Region'} (${found}). ` +
      `Set multiRegion to ${key.MultiRegion}, or check the ARN.`;
  }
  if (key.KeyState === 'PendingDeletion' || key.KeyState === 'PendingReplicaDeletion') {
    return `${head(e)} the key is ${key.KeyState} (${found}). Cancel the deletion (CancelKeyDeletion, then EnableKey), or use another key.`;
  }
  return undefined;
}

/** The message when DescribeKey finds no such key. */
export function keyNotFoundMessage(e: Expected): string {
  const stack = stackEnvironment(e.stackId);
  return `${head(e)} KMS has no such key${stack ? ` in account ${stack.account}, Region ${stack.region}` : ''} (DescribeKey: NotFoundException). ` +
    'Check the key ARN for a typo, and that the key was not deleted.';
}

/**
 * DescribeKey the target: it must exist, be EXTERNAL, in the stack's account and Region, with the declared key
 * spec and multi-Region setting. Throws a HandlerError that says what was found and what to do.
 */
export async function verifyTargetKey(ctx: KeyMaterialContext): Promise<void> {
  const expected = { props: ctx.props, stackId: ctx.event.StackId, logicalResourceId: ctx.event.LogicalResourceId };
  const arnProblem = keyArnProblem(expected);
  if (arnProblem) throw new HandlerError(arnProblem);
  let metadata: KeyMetadata | undefined;
  try {
    metadata = (await ctx.kms('DescribeKey', (abortSignal) => kms.send(new DescribeKeyCommand({ KeyId: ctx.keyArn }), { abortSignal }))).KeyMetadata;
  } catch (err) {
    if (errorName(err) === 'NotFoundException') throw new HandlerError(keyNotFoundMessage(expected));
    throw kmsFailure('DescribeKey', err, ctx.subject());
  }
  if (!metadata) throw new HandlerError(keyNotFoundMessage(expected));
  const problem = keyMetadataProblem(expected, metadata);
  if (problem) throw new HandlerError(problem);
  ctx.log.info('target key verified', { origin: metadata.Origin, keySpec: metadata.KeySpec, multiRegion: metadata.MultiRegion, keyState: metadata.KeyState });
}
