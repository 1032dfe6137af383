import { Annotations, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ImportedKeyMaterial, KeyMaterialOptions } from './imported-key-material';
import { KeyMaterialExpirationAlarmOptions } from './key-material-expiry';
import { DELETE_IMPORTED_KEY_MATERIAL_ACTIONS, IMPORT_KEY_MATERIAL_ACTIONS } from './private/actions';
import { addExpirationAlarm, importsNonExpiringMaterial, metricSecondsUntilKeyMaterialExpiration, onKeyMaterialExpiration } from './private/expiry';
import { grantOnKey } from './private/key-info';
import { applyPropertyInjectors, findPropertyInjector } from './private/property-injection';

/**
 * Properties of `ExternalKey`. They follow `kms.KeyProps` wherever they apply to EXTERNAL keys.
 */
export interface ExternalKeyProps extends KeyMaterialOptions {
  /**
   * A description of the key.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Initial alias to add to the key (`alias/` is added when missing).
   *
   * @default - no alias
   */
  readonly alias?: string;

  /**
   * The key spec. EXTERNAL keys can be symmetric (SYMMETRIC_DEFAULT), HMAC or asymmetric
   * (RSA, ECC). Changing it replaces the key.
   *
   * @default KeySpec.SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * The cryptographic operations the key is for. Changing it replaces the key.
   *
   * @default KeyUsage.ENCRYPT_DECRYPT
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * Creates a multi-Region primary key (replicate it with `ExternalReplicaKey`). A new material source on a
   * symmetric multi-Region key rotates it in every Region: NEW on the primary, EXISTING on each replica,
   * then RotateKeyOnDemand.
   *
   * @default false
   */
  readonly multiRegion?: boolean;

  /**
   * Whether the key is enabled.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Custom policy document to attach to the key, as on `kms.Key`. The statements that the
   * key-material handler needs are added to it.
   *
   * @default - the `kms.Key` default policy (the account root may administer and use the key)
   */
  readonly policy?: iam.PolicyDocument;

  /**
   * Principals allowed to administer the key, as on `kms.Key`.
   *
   * @default []
   */
  readonly admins?: iam.IPrincipal[];

  /**
   * Waiting period (7 to 30 days) before KMS deletes the key once it is scheduled for deletion.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to the key itself when it is removed from the stack. DESTROY schedules the key
   * for deletion after `pendingWindow`; RETAIN keeps it. Independent of `materialRemovalPolicy`,
   * which decides whether the imported material is deleted first (see the README).
   * `applyRemovalPolicy()` on the key sets this one.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A KMS key with Origin EXTERNAL, whose key material you bring, and which is a full `kms.IKey`:
 * grants, aliases and key policy behave as on `kms.Key`.
 *
 * It imports `material` when it is created and deletes the imported material when the stack is
 * destroyed (unless `materialRemovalPolicy` is RETAIN), so the key is unusable at once instead of
 * staying usable for the 7 to 30 days of its deletion window.
 *
 * Property injectors: those registered for `ExternalKey.PROPERTY_INJECTION_ID` receive
 * `ExternalKeyProps`; those for `kms.Key.PROPERTY_INJECTION_ID` also apply (ExternalKey is a
 * `kms.Key`), except that automatic rotation stays off, which KMS refuses for EXTERNAL keys.
 */
export class ExternalKey extends kms.Key {
  /** Uniquely identifies this class for property injectors (`PropertyInjectors.of(scope).add(...)`). */
  public static readonly PROPERTY_INJECTION_ID: string = 'cdk-kms-lifecycle.ExternalKey';

  /**
   * The resource that imports and deletes this key's material. It always exists (with or without
   * `material`), so that changing `materialRemovalPolicy` only changes its DeletionPolicy.
   */
  public readonly keyMaterial: ImportedKeyMaterial;

  private readonly neverExpires: boolean;

  /**
   * @param scope the construct scope (usually the stack) in which to define the key
   * @param id the construct id, unique within `scope`
   * @param externalKeyProps the key's properties (as `kms.Key`'s) and its material
   */
  constructor(scope: Construct, id: string, externalKeyProps: ExternalKeyProps = {}) {
    const props = applyPropertyInjectors(ExternalKey.PROPERTY_INJECTION_ID, externalKeyProps, scope, id);
    super(scope, id, guardRotation(scope, id, {
      description: props.description,
      alias: props.alias,
      keySpec: props.keySpec,
      keyUsage: props.keyUsage,
      multiRegion: props.multiRegion,
      enabled: props.enabled,
      policy: props.policy,
      admins: props.admins,
      pendingWindow: props.pendingWindow,
      removalPolicy: props.removalPolicy,
      // KMS does not rotate EXTERNAL keys automatically.
      enableKeyRotation: false,
    }));
    const cfnKey = this.node.defaultChild as kms.CfnKey;
    cfnKey.origin = 'EXTERNAL';
    if (cfnKey.enableKeyRotation !== false || cfnKey.rotationPeriodInDays !== undefined) {
      // A kms.Key property injector turned automatic rotation on: KMS refuses it for EXTERNAL keys.
      cfnKey.enableKeyRotation = false;
      cfnKey.rotationPeriodInDays = undefined;
      Annotations.of(this).addWarningV2('cdk-kms-lifecycle:rotationInjected',
        'A property injector for kms.Key set enableKeyRotation or rotationPeriod; KMS cannot rotate EXTERNAL keys automatically, so ExternalKey keeps EnableKeyRotation false. ' +
        'Rotate imported material on demand instead (a new material secret), and make the injector keep an explicit enableKeyRotation: false (for example { enableKeyRotation: true, ...originalProps }).');
    }
    // false is CloudFormation's default for EnableKeyRotation: left out of the template (24 bytes per key).
    cfnKey.enableKeyRotation = undefined;
    Validations.of(cfnKey).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason: 'KMS cannot rotate EXTERNAL-origin keys automatically; material you import is rotated on demand (ImportKeyMaterial NEW_KEY_MATERIAL + RotateKeyOnDemand).',
    });

    // Always present, so that DESTROY <-> RETAIN only changes the resource's DeletionPolicy (a resource that
    // leaves the template is deleted with its old properties: that is what shredded retained material in 0.1.0).
    // Key spec and multi-Region as synthesized (a property injector may have set them).
    this.keyMaterial = new ImportedKeyMaterial(this, 'Material', {
      key: this,
      keySpec: cfnKey.keySpec as kms.KeySpec | undefined,
      multiRegion: cfnKey.multiRegion as boolean | undefined,
      material: props.material,
      expiration: props.expiration,
      materialRemovalPolicy: props.materialRemovalPolicy,
      keyMaterialDescription: props.keyMaterialDescription,
    });
    this.neverExpires = importsNonExpiringMaterial(props);
  }

  /**
   * The seconds left until this key's imported material expires (`AWS/KMS` `SecondsUntilKeyMaterialExpiration`,
   * dimension KeyId), Minimum over 5 minutes by default.
   *
   * @param props options that override the metric's defaults (period, statistic, label, ...)
   */
  public metricSecondsUntilKeyMaterialExpiration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return metricSecondsUntilKeyMaterialExpiration(this, props);
  }

  /**
   * An alarm that goes off when less than `options.before` is left until this key's material expires
   * (missing data keeps the alarm's state: see `KeyMaterialExpirationAlarmOptions.treatMissingData`).
   *
   * @param id construct id of the alarm (under this key)
   * @param options when to alarm, and the alarm's options
   */
  public addExpirationAlarm(id: string, options: KeyMaterialExpirationAlarmOptions): cloudwatch.Alarm {
    return addExpirationAlarm(this, id, options, this.neverExpires);
  }

  /**
   * An EventBridge rule for the `KMS Imported Key Material Expiration` events of this key, which KMS sends
   * (best effort) once it has deleted expired material.
   *
   * @param id construct id of the rule (under this key)
   * @param options the rule's target, name, description and extra pattern
   */
  public onKeyMaterialExpiration(id: string, options?: events.OnEventOptions): events.Rule {
    return onKeyMaterialExpiration(this, id, options);
  }

  /**
   * Grants kms:DeleteImportedKeyMaterial on this key, in its key policy.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantDeleteImportedKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this, grantee, DELETE_IMPORTED_KEY_MATERIAL_ACTIONS);
  }

  /**
   * Grants kms:GetParametersForImport and kms:ImportKeyMaterial on this key, in its key policy.
   *
   * @param grantee the principal to grant the permission to (a role, user, group or any `iam.IGrantable`)
   */
  public grantImportKeyMaterial(grantee: iam.IGrantable): iam.Grant {
    return grantOnKey(this, this, grantee, IMPORT_KEY_MATERIAL_ACTIONS);
  }
}

/**
 * kms.Key applies the property injectors registered for kms.Key to these props, and refuses rotation on HMAC and
 * asymmetric keys before ExternalKey could turn it off again: fail first, with what to do. (On symmetric keys
 * ExternalKey turns rotation off after the fact, with a warning.)
 */
function guardRotation(scope: Construct, id: string, props: kms.KeyProps): kms.KeyProps {
  const injector = findPropertyInjector(scope, kms.Key.PROPERTY_INJECTION_ID);
  if (!injector) return props;
  const injected = injector.inject({ ...props }, { scope, id }) as kms.KeyProps;
  const keySpec = injected.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
  if ((injected.enableKeyRotation || injected.rotationPeriod) && keySpec !== kms.KeySpec.SYMMETRIC_DEFAULT) {
    throw new Error(`${scope.node.path === '' ? id : `${scope.node.path}/${id}`}: a property injector for kms.Key (${kms.Key.PROPERTY_INJECTION_ID}) turns on automatic key rotation, ` +
      `which KMS refuses for EXTERNAL keys and kms.Key refuses for ${keySpec} keys. Make the injector keep an explicit enableKeyRotation: false ` +
      '(for example return { enableKeyRotation: true, ...originalProps }), or register it on a scope that does not hold this key.');
  }
  return props;
}
