/**
 * Rollback detection: a refused material change is accepted as a no-op while the stack rolls back the
 * update that asked for it (the refused forward update changed nothing in KMS).
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { errorName } from '../shared/errors';
import { cloudFormation } from '../shared/stack-status';
import { KeyMaterialContext } from './context';

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
