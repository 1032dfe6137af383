import { Duration, Reference, RemovalPolicy, Resource, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ExternalKey } from './external-key';
import { ImportedKeyMaterial, KeyMaterialOptions } from './imported-key-material';
import { KeyMaterial, KeyMaterialConfig } from './key-material';
import { KeyMaterialExpirationAlarmOptions } from './key-material-expiry';
import { DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, IMPORT_KEY_MATERIAL_ACTIONS } from './private/actions';
import { addExpirationAlarm, importsNonExpiringMaterial, metricSecondsUntilKeyMaterialExpiration, onKeyMaterialExpiration } from './private/expiry';
import { IMPORTABLE_KEY_SPECS, WRAPPING_KEY_SPEC, wrappingAlgorithmFor } from './private/key-material-contract';
import { keyPolicyStatement } from './private/key-info';
import { KeyMaterialProvider } from './private/key-material-provider';

/**
 * Properties of `ExternalReplicaKey`.
 */
export interface ExternalReplicaKeyProps extends KeyMaterialOptions {
  /**
   * The multi-Region primary key (an `ExternalKey` with `multiRegion: true`) in another Region of the
   * same account. Its stack and this one need `crossRegionReferences: true`, because the replica names
   * the primary's ARN. Changing it replaces the replica.
   */
  readonly primaryKey: ExternalKey;

  /**
   * A description of the replica key.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Initial alias to add to the replica key (`alias/` is added when missing). Aliases are per Region.
   *
   * @default - no alias
   */
  readonly alias?: string;

  /**
   * Whether the replica key is enabled.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * The key policy of the replica, as on `kms.Key` (key policies are not shared between related
   * multi-Region keys).
   *
   * @default - the account root may administer and use the key (IAM policies then grant access), as `kms.Key`
   */
  readonly policy?: iam.PolicyDocument;

  /**
   * Principals allowed to administer the replica key.
   *
   * @default []
   */
  readonly admins?: iam.IPrincipal[];

  /**
   * Waiting period (7 to 30 days) before KMS deletes the replica once it is scheduled for deletion.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to the replica key itself when it is removed from the stack. DESTROY schedules it for
   * deletion after `pendingWindow`; RETAIN keeps it. Independent of `materialRemovalPolicy`.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A replica, in this stack's Region, of a multi-Region `ExternalKey`: an `AWS::KMS::ReplicaKey` and a
 * full `kms.IKey` (grants, aliases and key policy as on `kms.Key`).
 *
 * KMS never copies imported material to a replica: a replica of an EXTERNAL primary starts PendingImport.
 * This construct imports `material` into it when it is created, and deletes the replica's imported
 * material when the stack is destroyed (`materialRemovalPolicy`), exactly as `ExternalKey` does. Deleting
 * a replica's material leaves the primary's and the other replicas' material alone.
 *
 * The material must be the primary's, and the handler reads it in this Region: use the primary's secret
 * replicated to this Region (Secrets Manager `replicaRegions`), referenced by name, for example
 * `KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'Material', 'app/key-material'))`.
 * A secret of another Region is refused at synth time: this Region's deploys must not depend on the
 * primary's Region being reachable, which is what a replica is for.
 */
export class ExternalReplicaKey extends Resource implements kms.IKey {
  /** The ARN of the replica key (the primary's ARN with this Region). */
  public readonly keyArn: string;
  /** The key id (the same as the primary's). */
  public readonly keyId: string;
  /** The primary key. */
  public readonly primaryKey: ExternalKey;
  /**
   * The resource that imports and deletes the replica's material. It always exists (with or without
   * `material`), so that changing `materialRemovalPolicy` only changes its DeletionPolicy, as on ExternalKey.
   */
  public readonly keyMaterial: ImportedKeyMaterial;

  private readonly policy: iam.PolicyDocument;
  private readonly aliases: kms.Alias[] = [];
  private readonly neverExpires: boolean;

  /**
   * @param scope the construct scope (a stack in the replica's Region) in which to define the replica
   * @param id the construct id, unique within `scope`
   * @param props the multi-Region primary, the replica's key properties and its material
   */
  constructor(scope: Construct, id: string, props: ExternalReplicaKeyProps) {
    super(scope, id);
    const primary = props.primaryKey;
    if (!(primary instanceof ExternalKey)) {
      throw new Error(`${this.node.path}: primaryKey must be an ExternalKey (a multi-Region key with Origin EXTERNAL)`);
    }
    this.primaryKey = primary;
    const primaryCfn = primary.node.defaultChild as kms.CfnKey;
    const keySpec = (primaryCfn.keySpec as string | undefined) ?? kms.KeySpec.SYMMETRIC_DEFAULT;
    validatePrimary(this, primary, primaryCfn, keySpec);

    let pendingWindowInDays: number | undefined;
    if (props.pendingWindow && !Token.isUnresolved(props.pendingWindow.toDays({ integral: false }))) {
      pendingWindowInDays = props.pendingWindow.toDays();
      if (pendingWindowInDays < 7 || pendingWindowInDays > 30) {
        throw new Error(`${this.node.path}: pendingWindow must be 7 to 30 days, got ${pendingWindowInDays}`);
      }
    }

    this.policy = props.policy ?? new iam.PolicyDocument();
    if (!props.policy) {
      this.policy.addStatements(new iam.PolicyStatement({ resources: ['*'], actions: ['kms:*'], principals: [new iam.AccountRootPrincipal()] }));
    }
    this.node.addValidation({ validate: () => this.policy.validateForResourcePolicy() });
    if (keySpec === kms.KeySpec.SYMMETRIC_DEFAULT && primary.keyMaterial) {
      // A material change on the primary imports the same material into this replica, from the primary Region's
      // handler (NEW on the primary, EXISTING on every replica, then RotateKeyOnDemand): only those two actions.
      // The role's ARN attribute itself: aws-cdk-lib carries it to this Region as a cross-Region reference.
      const handlerRole = KeyMaterialProvider.getOrCreate(primary).role.node.defaultChild as iam.CfnRole;
      const primaryHandler = new iam.ArnPrincipal(handlerRole.attrArn);
      const [getParameters, importMaterial] = IMPORT_KEY_MATERIAL_ACTIONS;
      this.policy.addStatements(
        keyPolicyStatement(primaryHandler, [getParameters], {
          StringEquals: { 'kms:WrappingAlgorithm': wrappingAlgorithmFor(keySpec), 'kms:WrappingKeySpec': WRAPPING_KEY_SPEC },
        }),
        keyPolicyStatement(primaryHandler, [importMaterial]),
      );
    }

    const resource = new kms.CfnReplicaKey(this, 'Resource', {
      primaryKeyArn: primary.keyArn,
      keyPolicy: this.policy,
      description: props.description,
      enabled: props.enabled,
      pendingWindowInDays,
    });
    resource.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.keyArn = resource.attrArn;
    this.keyId = resource.attrKeyId;

    (props.admins ?? []).forEach((p) => this.grants.admin(p));
    if (props.alias !== undefined) this.addAlias(props.alias);

    this.neverExpires = importsNonExpiringMaterial(props);
    // Always present (issue 9): a material resource that leaves the template is deleted with its old properties.
    this.keyMaterial = new ImportedKeyMaterial(this, 'Material', {
      key: this,
      keySpec: keySpec as kms.KeySpec,
      multiRegion: true,
      material: props.material && new MaterialInThisRegion(props.material, this),
      expiration: props.expiration,
      materialRemovalPolicy: props.materialRemovalPolicy,
      keyMaterialDescription: props.keyMaterialDescription,
    });
  }

  /** A reference to this key (key id and ARN). */
  public get keyRef(): kms.KeyReference {
    return { keyArn: this.keyArn, keyId: this.keyId };
  }

  /** Grants on this key, through aws-cdk-lib's `kms.KeyGrants` with this key's policy as resource policy. */
  public get grants(): kms.KeyGrants {
    return kms.KeyGrants.fromKey(this, true);
  }

  /**
   * Defines a new alias for the replica key (in this Region).
   *
   * @param aliasName the alias name (`alias/` is added when missing)
   */
  public addAlias(aliasName: string): kms.Alias {
    const alias = new kms.Alias(this, this.aliases.length > 0 ? `Alias${aliasName}` : 'Alias', { aliasName, targetKey: this });
    this.aliases.push(alias);
    return alias;
  }

  /**
   * Adds a statement to the replica's key policy.
   *
   * @param statement the statement to add
   * @param _allowNoOp ignored: the statement is always added (the replica's key policy is defined in this stack)
   */
  public addToResourcePolicy(statement: iam.PolicyStatement, _allowNoOp?: boolean): iam.AddToResourcePolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }

  /**
   * Grants the given actions on this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   * @param actions the KMS actions to grant
   */
  public grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return this.grants.actions(grantee, ...actions);
  }

  /**
   * Grants decryption with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.decrypt(grantee);
  }

  /**
   * Grants encryption with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantEncrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.encrypt(grantee);
  }

  /**
   * Grants encryption and decryption with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantEncryptDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grants.encryptDecrypt(grantee);
  }

  /**
   * Grants signing with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantSign(grantee: iam.IGrantable): iam.Grant {
    return this.grants.sign(grantee);
  }

  /**
   * Grants verifying signatures with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grants.verify(grantee);
  }

  /**
   * Grants signing and verifying with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantSignVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grants.signVerify(grantee);
  }

  /**
   * Grants generating MACs with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantGenerateMac(grantee: iam.IGrantable): iam.Grant {
    return this.grants.generateMac(grantee);
  }

  /**
   * Grants verifying MACs with this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantVerifyMac(grantee: iam.IGrantable): iam.Grant {
    return this.grants.verifyMac(grantee);
  }

  /**
   * Grants administering this key.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantAdmin(grantee: iam.IGrantable): iam.Grant {
    return this.grants.admin(grantee);
  }

  /**
   * Grants kms:DeleteImportedKeyMaterial on this replica.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDeleteImportedKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, ...DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
  }

  /**
   * Grants kms:GetParametersForImport and kms:ImportKeyMaterial on this replica.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantImportKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, ...IMPORT_KEY_MATERIAL_ACTIONS);
  }

  /**
   * The seconds left until this replica's imported material expires (`AWS/KMS`
   * `SecondsUntilKeyMaterialExpiration`, dimension KeyId), Minimum over 5 minutes by default.
   * Each Region's material expires on its own: this is the replica's, not the primary's.
   *
   * @param props options that override the metric's defaults (period, statistic, label, ...)
   */
  public metricSecondsUntilKeyMaterialExpiration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return metricSecondsUntilKeyMaterialExpiration(this, props);
  }

  /**
   * An alarm that goes off when less than `options.before` is left until this replica's material expires.
   *
   * @param id construct id of the alarm (under this key)
   * @param options when to alarm, and the alarm's options
   */
  public addExpirationAlarm(id: string, options: KeyMaterialExpirationAlarmOptions): cloudwatch.Alarm {
    return addExpirationAlarm(this, id, options, this.neverExpires);
  }

  /**
   * An EventBridge rule for the `KMS Imported Key Material Expiration` events of this replica, which KMS
   * sends (best effort) when it has deleted expired material, in this Region.
   *
   * @param id construct id of the rule (under this key)
   * @param options the rule's target, name, description and extra pattern
   */
  public onKeyMaterialExpiration(id: string, options?: events.OnEventOptions): events.Rule {
    return onKeyMaterialExpiration(this, id, options);
  }
}

function validatePrimary(replica: ExternalReplicaKey, primary: ExternalKey, cfn: kms.CfnKey, keySpec: string): void {
  const path = replica.node.path;
  if (!Token.isUnresolved(cfn.multiRegion) && cfn.multiRegion !== true) {
    throw new Error(`${path}: the primary key ${primary.node.path} is not a multi-Region key, and only multi-Region keys have replicas; ` +
      'create it with multiRegion: true (this replaces the primary key)');
  }
  if (!Token.isUnresolved(keySpec) && !IMPORTABLE_KEY_SPECS.includes(keySpec)) {
    throw new Error(`${path}: the primary key ${primary.node.path} is ${keySpec}, and KMS cannot import key material for ${keySpec} keys; importable key specs are ${IMPORTABLE_KEY_SPECS.join(', ')}`);
  }
  const here = Stack.of(replica);
  const there = Stack.of(primary);
  if (here === there || (!Token.isUnresolved(here.region) && here.region === there.region)) {
    throw new Error(`${path}: a replica must be in another Region than its primary key ${primary.node.path} (${there.region}); ` +
      'put it in a stack of the Region it replicates the key into');
  }
  if (!Token.isUnresolved(here.account) && !Token.isUnresolved(there.account) && here.account !== there.account) {
    throw new Error(`${path}: the primary key ${primary.node.path} is in account ${there.account}, but this stack deploys to account ${here.account}; ` +
      'KMS replicates a multi-Region key only within its account');
  }
}

/** The user's material source, checked to be readable in the replica's own Region. */
class MaterialInThisRegion extends KeyMaterial {
  constructor(private readonly inner: KeyMaterial, private readonly replica: ExternalReplicaKey) {
    super();
  }

  public bind(scope: Construct, keySpec: string, grantee: iam.IGrantable): KeyMaterialConfig {
    const config = this.inner.bind(scope, keySpec, grantee);
    const region = Stack.of(this.replica).region;
    const secretRegion = regionOfSecretArn(config.secretArn);
    if (secretRegion && !Token.isUnresolved(region) && secretRegion !== region) {
      throw new Error(`${this.replica.node.path}: the material secret is in Region ${secretRegion}, but the replica's handler reads it in ${region}. ` +
        `Replicate the primary's secret to ${region} (Secrets Manager replicaRegions) and reference it by name in this stack, ` +
        `for example KeyMaterial.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'Material', '<secret name>'))`);
    }
    return config;
  }
}

/** The Region of a secret ARN: from its literal text, or from the stack of the secret it references. */
function regionOfSecretArn(arn: string): string | undefined {
  const literal = /:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d+):/.exec(arn);
  if (literal) return literal[1];
  for (const token of Tokenization.reverseString(arn).tokens) {
    if (token instanceof Reference) {
      const region = Stack.of(token.target).region;
      if (!Token.isUnresolved(region)) return region;
    }
  }
  return undefined;
}
