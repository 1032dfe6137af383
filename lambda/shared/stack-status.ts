/**
 * Rollback detection for Delete: is CloudFormation deleting this resource to roll back the deployment that
 * added it? Then a handler leaves alone what the resource did not create (adopted stores, material imported
 * elsewhere). Reads the status of this stack only (cloudformation:DescribeStacks on the stack id).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CLIENT_CONFIG } from './clients';
import { ActionableError, errorMessage, errorName, quoteServiceMessage } from './errors';
import { CustomResourceEvent, RequestContext } from './run';

/** Region and endpoint from the environment (AWS_REGION, AWS_ENDPOINT_URL_CLOUDFORMATION). */
export const cloudFormation = new CloudFormationClient(CLIENT_CONFIG);

/**
 * Stack statuses in which CloudFormation deletes a resource to roll back the deployment that added it:
 * a failed first deployment, a failed update and its cleanup, a failed import.
 */
export const ROLLBACK_STACK_STATUSES: ReadonlySet<string> = new Set([
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
  'IMPORT_ROLLBACK_IN_PROGRESS',
]);

/** True when a Delete in this stack status is part of a rollback. */
export function isRollbackStatus(status: string | undefined): boolean {
  return status !== undefined && ROLLBACK_STACK_STATUSES.has(status);
}

/** Thrown when the stack status cannot be read. */
export class StackStatusError extends ActionableError {
  public constructor(message: string) {
    super(message, 'StackStatusError');
  }
}

/**
 * The stack's status (DescribeStacks on the stack id). Throws a StackStatusError that says what to do when it
 * cannot be read: guessing could shred what a rollback must leave alone, while a failed delete can be retried.
 * `why` says what the status decides.
 */
export async function readStackStatus(ctx: RequestContext<CustomResourceEvent<object>, string>, why: string): Promise<string> {
  const stackId = ctx.event.StackId;
  const failure = (cause: string) => new StackStatusError(
    `Cannot read the status of stack ${stackId} for ${ctx.subjectText()} (${cause}). The handler needs it to ${why}, and does not guess. ` +
    'Check that the handler role may call cloudformation:DescribeStacks on this stack, then retry the operation (a retried delete or rollback sends the Delete again).');
  let status: string | undefined;
  try {
    const out = await ctx.call('CloudFormation', 'DescribeStacks', (abortSignal) =>
      cloudFormation.send(new DescribeStacksCommand({ StackName: stackId }), { abortSignal }));
    status = out.Stacks?.[0]?.StackStatus;
  } catch (err) {
    if (err instanceof ActionableError) throw failure(err.message);
    throw failure(`DescribeStacks failed: ${errorName(err) ?? 'Error'}: ${quoteServiceMessage(errorMessage(err)) || 'no message'}`);
  }
  if (!status) throw failure('DescribeStacks returned no stack status');
  ctx.log.info('read the stack status', { stackStatus: status });
  return status;
}
