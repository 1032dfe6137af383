/**
 * Errors whose message is already actionable, and the wording shared by the handlers' error mappers.
 */
import { attemptsMade } from './aws';

/**
 * An error whose message says what failed, where, why and what to do, and holds no secret: the
 * handlers pass it through unchanged to the Provider framework (which reports it to CloudFormation).
 */
export class ActionableError extends Error {
  public constructor(message: string, name = 'ActionableError') {
    super(message);
    this.name = name;
  }
}

/** The reason for a transient fault that outlived the SDK's retries. */
export function transientText(err: unknown, service: string): string {
  const attempts = attemptsMade(err);
  return `a transient ${service} fault that persisted${attempts ? ` through ${attempts} attempts` : ''}; retry the deployment.`;
}

/** The message for a call cut off at the Lambda deadline; `subject` says which resource. */
export function deadlineText(service: string, operation: string, subject: string): string {
  return `${service} ${operation} for ${subject} ran out of time before the Lambda function's deadline: ` +
    `transient ${service} faults (throttling, internal errors, dependency time-outs or network errors) persisted through the SDK's retries; retry the deployment.`;
}
