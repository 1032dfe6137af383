import * as path from 'path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Where the bundled handlers live, relative to this file (lib/private/). */
const ASSETS_DIR = path.join(__dirname, '..', '..', 'assets');

export interface HandlerProviderProps {
  /** Folder under assets/ (and lambda/) that holds the handler bundle. */
  readonly bundle: string;
  /** Description of the handler function. */
  readonly description: string;
  /** Handler function timeout. */
  readonly timeout: Duration;
  /** Exported name of the onEvent handler in the bundle. */
  readonly onEventHandler: string;
  /** Exported name of the isComplete handler in the bundle. Without it, no waiter is created. */
  readonly isCompleteHandler?: string;
  /** Waiter query interval (with isCompleteHandler). */
  readonly queryInterval?: Duration;
  /** Waiter total timeout (with isCompleteHandler). */
  readonly totalTimeout?: Duration;
}

/**
 * A Provider framework provider with its own handler role, whose CloudWatch Logs permissions are
 * scoped to the handler's own log group (no AWSLambdaBasicExecutionRole).
 */
export class HandlerProvider extends Construct {
  /** The role of the handler functions: the principal of every key-policy statement. */
  public readonly role: iam.Role;
  /** The service token of the provider. */
  public readonly serviceToken: string;

  constructor(scope: Construct, id: string, props: HandlerProviderProps) {
    super(scope, id);

    const code = lambda.Code.fromAsset(path.join(ASSETS_DIR, props.bundle));
    const handlerLogs = new logs.LogGroup(this, 'HandlerLogs', { retention: logs.RetentionDays.ONE_YEAR });
    this.role = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Role of the ${props.description}`,
    });
    grantWriteLogs(this.role, handlerLogs);

    const fn = (handler: string, id: string) => new lambda.Function(this, id, {
      code,
      handler: `index.${handler}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      memorySize: 512,
      timeout: props.timeout,
      description: props.description,
      role: this.role,
      logGroup: handlerLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    const onEvent = fn(props.onEventHandler, 'OnEventHandler');
    const isComplete = props.isCompleteHandler ? fn(props.isCompleteHandler, 'IsCompleteHandler') : undefined;

    const frameworkLogs = new logs.LogGroup(this, 'FrameworkLogs', { retention: logs.RetentionDays.ONE_YEAR });
    const frameworkRole = (name: string) => {
      const role = new iam.Role(this, name, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      grantWriteLogs(role, frameworkLogs);
      return role;
    };
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: props.queryInterval,
      totalTimeout: props.totalTimeout,
      logGroup: frameworkLogs,
      frameworkOnEventRole: frameworkRole('FrameworkOnEventRole'),
      frameworkCompleteAndTimeoutRole: isComplete ? frameworkRole('FrameworkCompleteRole') : undefined,
    });
    this.serviceToken = provider.serviceToken;

    // The framework functions take aws-cdk-lib's default Node.js runtime; run them on the same
    // (newest) runtime as the handlers.
    for (const child of provider.node.findAll()) {
      if (child instanceof lambda.CfnFunction) child.runtime = lambda.Runtime.NODEJS_24_X.name;
    }
    // The framework's grantInvoke also names the handler's versions and aliases (`<arn>:*`).
    for (const handler of [onEvent, isComplete]) {
      if (!handler) continue;
      const logicalId = this.stack.getLogicalId(handler.node.defaultChild as lambda.CfnFunction);
      for (const role of provider.node.scope!.node.children.filter((c): c is iam.Role => c instanceof iam.Role && c !== this.role)) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
          reason: 'The Provider framework may invoke any version of its own handler function; the wildcard covers only that function\'s versions.',
        });
      }
    }
  }

  /**
   * Adds a statement to the handler role's own policy.
   */
  public addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }

  /** The stack this provider serves. */
  public get stack(): Stack {
    return Stack.of(this);
  }
}

function grantWriteLogs(role: iam.Role, logGroup: logs.LogGroup): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [logGroup.logGroupArn],
  }));
}
