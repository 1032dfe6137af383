import { App, IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack } from 'cdk-nag';

/**
 * Runs a cdk-nag pack as a CDK validation plugin.
 *
 * cdk-nag 3 reads the construct tree from `context.appConstruct`, which aws-cdk-lib 2.257 does
 * not set yet; this adapter hands it the app.
 */
export class NagValidationPlugin implements IPolicyValidationPlugin {
  public readonly name: string;

  constructor(private readonly app: App, private readonly pack: NagPack = new AwsSolutionsChecks()) {
    this.name = pack.readPackName;
  }

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    return this.pack.validate({ ...context, appConstruct: this.app } as IPolicyValidationContext);
  }
}
