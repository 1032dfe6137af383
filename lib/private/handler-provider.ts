import * as path from 'path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** The runtime of every handler and framework function (cdk-nag AwsSolutions-L1 wants the newest). */
const RUNTIME = lambda.Runtime.NODEJS_24_X;

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
  /**
   * The onEvent function answers CloudFormation itself: its handler is aws-cdk-lib's custom resource entrypoint,
   * bundled in front of ours (`onEventHandler` names that export), and there is no Provider framework. Only
   * without `isCompleteHandler`. @default false
   */
  readonly direct?: boolean;
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
    handlerLogs.grantWrite(this.role);

    const fn = (handler: string, id: string, parent: Construct = this) => new lambda.Function(parent, id, {
      code,
      handler: `index.${handler}`,
      runtime: RUNTIME,
      memorySize: 512,
      timeout: props.timeout,
      description: props.description,
      role: this.role,
      logGroup: handlerLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    if (props.direct) {
      if (props.isCompleteHandler) throw new Error('a direct provider has no waiter: give no isCompleteHandler');
      // The function takes the construct path, and so the logical id and the physical name, of the Provider
      // framework's onEvent function it replaces: the ServiceToken of every resource stays the same ARN, and
      // CloudFormation refuses to change a custom resource's ServiceToken ("Modifying service token is not allowed").
      this.serviceToken = fn(props.onEventHandler, 'framework-onEvent', new Construct(this, 'Provider')).functionArn;
      return;
    }
    const onEvent = fn(props.onEventHandler, 'OnEventHandler');
    const isComplete = props.isCompleteHandler ? fn(props.isCompleteHandler, 'IsCompleteHandler') : undefined;

    const frameworkLogs = new logs.LogGroup(this, 'FrameworkLogs', { retention: logs.RetentionDays.ONE_YEAR });
    const frameworkRole = (name: string) => {
      const role = new iam.Role(this, name, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      frameworkLogs.grantWrite(role);
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
      if (child instanceof lambda.CfnFunction) child.runtime = RUNTIME.name;
    }
    // The framework's grantInvoke names each function's versions and aliases too (`<arn>:*`).
    for (const fn of this.node.findAll().filter((c): c is lambda.CfnFunction => c instanceof lambda.CfnFunction)) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn)}.Arn>:*]`,
        reason: 'The Provider framework invokes its own functions; the wildcard covers only the versions and aliases of that one function.',
      });
    }
    if (isComplete) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-SF1',
        reason: 'ALL-level logging of the waiter state machine would write its execution input, which holds the CloudFormation ResponseURL (a pre-signed URL), to the logs; the handlers log each step as structured JSON instead.',
      }, {
        id: 'AwsSolutions-SF2',
        reason: 'The waiter only loops on isComplete; the Provider framework does not expose X-Ray tracing, and the handlers log each step with timings.',
      });
    }
  }
}
