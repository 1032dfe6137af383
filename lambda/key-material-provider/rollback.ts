/**
 * Rollback detection: a refused material change is accepted as a no-op while the stack rolls back the
 * update that asked for it (the refused forward update changed nothing in KMS).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CLIENT_CONFIG } from '../shared/clients';
import { errorName } from '../shared/errors';
import { KeyMaterialContext } from './context';

/** Region and endpoint from the environment (AWS_REGION, AWS_ENDPOINT_URL_CLOUDFORMATION). */
const cloudFormation = new CloudFormationClient(CLIENT_CONFIG);

/** True when the stack is rolling back an update (then a refused change is being reversed). */
export async function isRollingBack(ctx: KeyMaterialContext): Promise<boolean> {
  try {
    const out = await ctx.call('CloudFormation', 'DescribeStacks', (abortSignal) =>
      cloudFormation.send(new DescribeStacksCommand({ StackName: ctx.event.StackId }), { abortSignal }));
    const status = out.Stacks?.[0]?.StackStatus;
    ctx.log.info('checked stack status before refusing', { stackStatus: status });
    return status === 'UPDATE_ROLLBACK_IN_PROGRESS';
  } catch (err) {
    ctx.log.warn('could not read the stack status (rollback detection skipped)', { errorName: errorName(err) });
    return false;
  }
}
