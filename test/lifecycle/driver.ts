/**
 * The lifecycle driver: plays CloudFormation's request sequences for a synthesized template against the
 * KMS emulator, through the handler bundles that ship and the installed aws-cdk-lib's Provider framework runtime
 * (provider-framework.ts).
 *
 * - Native resources are made real in the emulator: `AWS::KMS::Key` → a key (Origin, KeySpec, KeyUsage,
 *   MultiRegion, Enabled), deleted with ScheduleKeyDeletion when its DeletionPolicy is Delete;
 *   `AWS::SecretsManager::Secret` → a secret (value from `secretValues`), deleted unless retained;
 *   `AWS::KMS::ReplicaKey` → ReplicateKey of its PrimaryKeyArn into the driver's Region; aws-cdk-lib's
 *   cross-Region references (cross-region.ts). Each driver plays one stack in its `env` Region, and sets the
 *   AWS environment to that Region before every handler invocation (the bundles' clients resolve it then).
 *   Every other native resource (roles, policies, functions, log groups, ...) only exists in the driver.
 * - Custom resources go to the runtime behind their ServiceToken (runtime.ts): for a Provider framework onEvent
 *   function, its Environment (USER_ON_EVENT_FUNCTION_ARN, USER_IS_COMPLETE_FUNCTION_ARN, WAITER_STATE_MACHINE_ARN)
 *   names the user functions, whose Handler (`index.<export>`) and Timeout are taken from the template; the
 *   waiter's interval, attempts and backoff come from the state machine definition.
 * - Properties are resolved to concrete values (test/util/template.ts `resolve`) with the emulator's ids;
 *   scalars become strings, as CloudFormation sends them.
 * - Create, update (no request when the resolved properties are unchanged; replacement when a key's
 *   KeySpec/KeyUsage/Origin/MultiRegion changes or a handler returns a new physical id; the old resource's
 *   Delete arrives in the cleanup phase with its OLD properties and physical id), rollback of a failed create
 *   or update (the failed resource gets the reverse Update while the stack is UPDATE_ROLLBACK_IN_PROGRESS;
 *   a failed Create is deleted with the framework's CREATE_FAILED marker), and delete in
 *   `deletionOrder(template)`.
 * - Every custom resource invocation records which of the resources it depends on were already gone (the
 *   destroy-order check), and every response the framework sent (the leak check).
 */
import * as crypto from 'node:crypto';
import { DisableKeyCommand, EnableKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { Emulator } from '../kms-emulator';
import {
  CfnResource, dependencyGraph, deletionOrder, Env, PhysicalIds, referencesIn, resolve, transitiveDependencies,
} from '../util/template';
import {
  BundleModule, CUSTOM_KEY_STORE_BUNDLE, EMULATOR_DEFAULT_ENV, EmulatorEnv, KEY_MATERIAL_BUNDLE, loadBundle, useEmulatorEnvironment,
} from './bundles';
import { applyCrossRegionReference, deleteCrossRegionReference, isCrossRegionReference } from './cross-region';
import { InvocationRecord, LambdaFunctionSpec, SandboxPool } from './lambda';
import { connectEntrypoint, EntrypointRuntime } from './entrypoint';
import { CREATE_FAILED_MARKER, ProviderFrameworkRuntime, ProviderSpec } from './provider-framework';
import type { CfnRequest, CfnResponse, CustomResourceRuntime, ProviderOutcome, RequestType } from './runtime';

/** A template resource with the attributes the driver reads. */
export interface DriverResource extends CfnResource {
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export type DriverTemplate = { Resources: Record<string, DriverResource> };

/** Which bundle serves each custom resource type. */
export const BUNDLE_BY_RESOURCE_TYPE: Record<string, string> = {
  'Custom::KmsImportedKeyMaterial': KEY_MATERIAL_BUNDLE,
  'Custom::KmsCustomKeyStore': CUSTOM_KEY_STORE_BUNDLE,
};

export interface SecretValue {
  readonly secretString?: string;
  readonly secretBinary?: Buffer;
}

export interface DriverOptions {
  readonly emulator: Emulator;
  /** The emulator's account and Region. @default the emulator's defaults */
  readonly env?: EmulatorEnv;
  /** @default a unique name per driver */
  readonly stackName?: string;
  /**
   * Values of the template's `AWS::SecretsManager::Secret` resources, by logical id or by the logical id
   * without its 8-digit hash suffix. @default 32 random bytes, base64
   */
  readonly secretValues?: Record<string, SecretValue>;
  /** Budget of each Lambda invocation. @default the function's Timeout in the template */
  readonly lambdaBudgetMs?: (kind: 'onEvent' | 'isComplete', request: CfnRequest) => number | undefined;
  /** Waiter overrides. @default what the template's waiter state machine says */
  readonly waiter?: { readonly queryIntervalMs?: number; readonly totalTimeoutMs?: number };
  /**
   * How the waiter waits between polls. @default advance the emulator clock by the interval (no sleeping)
   */
  readonly wait?: (ms: number) => Promise<void>;
  /** Loaded bundles to share (one warm "container" per bundle). @default load a fresh copy per driver */
  readonly bundles?: Map<string, BundleModule>;
  /** Client for the driver's own KMS calls (ScheduleKeyDeletion, Enable/DisableKey). @default one on the emulator */
  readonly kms?: KMSClient;
  /** Set the AWS environment variables to the emulator. @default true */
  readonly configureEnvironment?: boolean;
  /** Called after every user handler invocation (tests change the emulator between calls). */
  readonly onInvocation?: (record: InvocationRecord) => void;
  /** Extra physical ids by logical id (resources the driver should not create). */
  readonly physicalIds?: Record<string, PhysicalIds>;
  /**
   * Create, update and delete the resources of one dependency wave at once, as CloudFormation does (its custom
   * resources then call their handlers concurrently, each concurrent invocation of a function in a sandbox of its
   * own: a fresh copy of the bundle, reused once idle). A wave is every resource at the same depth of the dependency
   * graph (creation) or height (deletion); CloudFormation may start some of them earlier. @default false (one at a
   * time, in creation or deletion order)
   */
  readonly concurrency?: boolean;
}

/** A resource the driver deployed. */
export interface LiveResource {
  readonly logicalId: string;
  readonly type: string;
  readonly definition: DriverResource;
  /** The template the resource was deployed from (for its dependencies). */
  readonly template: DriverTemplate;
  readonly physical: PhysicalIds;
  /** Resolved properties (what CloudFormation sent a custom resource, or what made a native one). */
  readonly props: Record<string, unknown>;
}

/** One thing CloudFormation did to one resource. */
export interface StackEvent {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId?: string;
  readonly action: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly status: 'COMPLETE' | 'FAILED' | 'RETAINED';
  readonly phase: 'forward' | 'rollback' | 'cleanup';
  readonly reason?: string;
}

/** A custom resource request with what existed when it ran. */
export interface CustomResourceInvocation extends ProviderOutcome {
  /** Resources this one depends on that were already deleted (or scheduled for deletion) when it ran. */
  readonly missingDependencies: string[];
  readonly phase: 'forward' | 'rollback' | 'cleanup' | 'manual';
  /** CloudFormation's limit for the response (the resource's ServiceTimeout, default one hour). */
  readonly serviceTimeoutMs: number;
}

export type StackStatus =
  | 'CREATE_COMPLETE' | 'ROLLBACK_COMPLETE' | 'ROLLBACK_FAILED'
  | 'UPDATE_COMPLETE' | 'UPDATE_ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_FAILED'
  | 'DELETE_COMPLETE' | 'DELETE_FAILED';

export interface StackOperation {
  readonly status: StackStatus;
  readonly events: StackEvent[];
  readonly invocations: CustomResourceInvocation[];
  /** Failed events (forward, rollback or cleanup). */
  readonly failures: StackEvent[];
}

const KEY_REPLACEMENT_PROPERTIES = ['KeySpec', 'KeyUsage', 'Origin', 'MultiRegion'];

export class LifecycleDriver {
  public readonly emulator: Emulator;
  public readonly stackName: string;
  public readonly stackId: string;
  public readonly env: EmulatorEnv;
  /** Every response the framework sent to CloudFormation, in order. */
  public readonly responses: CfnResponse[] = [];
  /** Every custom resource request, in order. */
  public readonly invocations: CustomResourceInvocation[] = [];
  /** Every resource event, in order. */
  public readonly events: StackEvent[] = [];
  /** Every ResponseURL the driver put in a request. */
  public readonly responseUrls: string[] = [];
  /** The deployed template (undefined before the first deploy and after a complete delete). */
  public template?: DriverTemplate;
  public status?: StackStatus;
  public readonly kms: KMSClient;

  private readonly live = new Map<string, LiveResource>();
  private readonly bundles: Map<string, BundleModule>;
  private readonly sandboxes = new Map<string, SandboxPool>();
  private readonly runtimes = new Map<string, CustomResourceRuntime>();
  private readonly ownsKms: boolean;

  constructor(private readonly options: DriverOptions) {
    this.emulator = options.emulator;
    this.env = options.env ?? EMULATOR_DEFAULT_ENV;
    this.stackName = options.stackName ?? `Lifecycle${crypto.randomBytes(4).toString('hex')}`;
    this.stackId = `arn:aws:cloudformation:${this.env.region}:${this.env.account}:stack/${this.stackName}/${crypto.randomUUID()}`;
    if (options.configureEnvironment !== false) useEmulatorEnvironment(this.emulator, this.env);
    this.bundles = options.bundles ?? new Map();
    this.ownsKms = !options.kms;
    this.kms = options.kms ?? new KMSClient({
      endpoint: this.emulator.endpoint, region: this.env.region, maxAttempts: 10,
      credentials: { accessKeyId: 'AKIDLIFECYCLETEST', secretAccessKey: 'lifecycle-test-secret' },
    });
  }

  /** Releases the driver's own client. */
  public close(): void {
    if (this.ownsKms) this.kms.destroy();
  }

  // ------------------------------------------------------------------ inspection

  /** The physical ids of a deployed resource. */
  public physical(logicalId: string): PhysicalIds {
    const r = this.live.get(logicalId);
    if (!r) throw new Error(`${logicalId} is not deployed`);
    return r.physical;
  }

  public isLive(logicalId: string): boolean {
    return this.live.has(logicalId);
  }

  public resource(logicalId: string): LiveResource {
    const r = this.live.get(logicalId);
    if (!r) throw new Error(`${logicalId} is not deployed`);
    return r;
  }

  /** Logical ids of the deployed template's resources of a type. */
  public logicalIdsOfType(type: string, template = this.template): string[] {
    if (!template) return [];
    return Object.entries(template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** The single logical id of a type whose id starts with `prefix`. */
  public logicalId(prefix: string, type: string, template = this.template): string {
    const ids = this.logicalIdsOfType(type, template).filter((id) => id.startsWith(prefix));
    if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
    return ids[0];
  }

  /** The resolution environment: the emulator's ids for everything deployed. */
  public resolveEnv(): Env {
    const physicalIds: Record<string, PhysicalIds> = { ...(this.options.physicalIds ?? {}) };
    for (const [id, r] of this.live) physicalIds[id] = r.physical;
    return { account: this.env.account, region: this.env.region, stackName: this.stackName, stackId: this.stackId, physicalIds };
  }

  // ------------------------------------------------------------------ stack operations

  /** Creates the stack, or updates it to `template` when it exists. */
  public async deploy(template: DriverTemplate): Promise<StackOperation> {
    return this.template ? this.update(template) : this.create(template);
  }

  private async create(template: DriverTemplate): Promise<StackOperation> {
    const op = this.begin();
    this.setStackStatus('CREATE_IN_PROGRESS');
    const created: string[] = [];
    let failed = false;
    for (const wave of this.creationWaves(template)) {
      const results = await Promise.all(wave.map(async (id) => {
        const ok = await this.createResource(template, id, op, 'forward');
        if (this.live.has(id)) created.push(id);
        return ok;
      }));
      if (results.includes(false)) {
        failed = true;
        break;
      }
    }
    this.template = template;
    if (!failed) return this.end(op, 'CREATE_COMPLETE');
    // Rollback: delete everything created, in deletion order.
    this.setStackStatus('ROLLBACK_IN_PROGRESS');
    let rollbackFailed = false;
    for (const wave of this.deletionWaves(template)) {
      await Promise.all(wave.filter((id) => created.includes(id)).map(async (id) => {
        if (!(await this.deleteResource(id, op, 'rollback'))) rollbackFailed = true;
      }));
    }
    if (!rollbackFailed) this.template = undefined;
    return this.end(op, rollbackFailed ? 'ROLLBACK_FAILED' : 'ROLLBACK_COMPLETE');
  }

  private async update(next: DriverTemplate): Promise<StackOperation> {
    const op = this.begin();
    const previous = this.template!;
    this.setStackStatus('UPDATE_IN_PROGRESS');
    interface Touched { id: string; kind: 'created' | 'updated' | 'replaced' | 'failed'; before?: LiveResource }
    const touched: Touched[] = [];
    const retired: LiveResource[] = []; // old physical resources to delete in cleanup
    let failed = false;
    const step = async (id: string): Promise<boolean> => {
      const definition = next.Resources[id];
      const before = this.live.get(id);
      if (!before) {
        const ok = await this.createResource(next, id, op, 'forward');
        if (this.live.has(id)) touched.push({ id, kind: 'created' });
        return ok;
      }
      if (before.type !== definition.Type) throw new Error(`${id}: changing a resource's type is not supported by the driver`);
      if (servedByProvider(definition.Type)) {
        const props = this.resolveProps(next, id);
        if (sameJson(props, before.props)) {
          this.live.set(id, { ...before, definition, template: next });
          return true;
        }
        const outcome = await this.invoke(next, id, definition, {
          RequestType: 'Update', ResourceProperties: props, OldResourceProperties: before.props, PhysicalResourceId: before.physical.ref,
        }, 'forward');
        if (outcome.response.Status !== 'SUCCESS') {
          this.record(op, { logicalId: id, type: definition.Type, physicalId: before.physical.ref, action: 'UPDATE', status: 'FAILED', phase: 'forward', reason: outcome.response.Reason });
          touched.push({ id, kind: 'failed', before });
          return false;
        }
        const after: LiveResource = { ...before, definition, template: next, props, physical: customPhysical(outcome.response) };
        this.live.set(id, after);
        this.record(op, { logicalId: id, type: definition.Type, physicalId: after.physical.ref, action: 'UPDATE', status: 'COMPLETE', phase: 'forward' });
        if (after.physical.ref !== before.physical.ref) {
          retired.push(before);
          touched.push({ id, kind: 'replaced', before });
        } else {
          touched.push({ id, kind: 'updated', before });
        }
        return true;
      }
      const props = this.resolveProps(next, id);
      if (sameJson(props, before.props)) {
        this.live.set(id, { ...before, definition, template: next });
        return true;
      }
      if (definition.Type === 'AWS::KMS::Key' && KEY_REPLACEMENT_PROPERTIES.some((p) => !sameJson(props[p], before.props[p]))) {
        this.live.delete(id);
        const ok = await this.createResource(next, id, op, 'forward');
        retired.push(before);
        touched.push({ id, kind: 'replaced', before });
        return ok;
      }
      await this.updateNative(id, before, definition, next, props);
      this.record(op, { logicalId: id, type: definition.Type, physicalId: before.physical.ref, action: 'UPDATE', status: 'COMPLETE', phase: 'forward' });
      touched.push({ id, kind: 'updated', before });
      return true;
    };
    for (const wave of this.creationWaves(next)) {
      if ((await Promise.all(wave.map(step))).includes(false)) {
        failed = true;
        break;
      }
    }

    if (!failed) {
      // Cleanup: replaced physical resources and resources no longer in the template, in the old order.
      this.setStackStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      this.template = next;
      const removed = Object.keys(previous.Resources).filter((id) => !(id in next.Resources) && this.live.has(id));
      for (const wave of this.deletionWaves(previous)) {
        await Promise.all(wave.map(async (id) => {
          for (const old of retired.filter((r) => r.logicalId === id)) await this.deletePhysical(old, op, 'cleanup', 'UpdateReplacePolicy');
          if (removed.includes(id)) await this.deleteResource(id, op, 'cleanup');
        }));
      }
      return this.end(op, 'UPDATE_COMPLETE');
    }

    // Rollback, in reverse.
    this.setStackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    let rollbackFailed = false;
    for (const t of [...touched].reverse()) {
      const current = this.live.get(t.id);
      const definition = previous.Resources[t.id];
      if (t.kind === 'created') {
        if (!(await this.deleteResource(t.id, op, 'rollback'))) rollbackFailed = true;
        continue;
      }
      const before = t.before!;
      if (t.kind === 'replaced') {
        // The new physical resource goes; the old one, still there, is restored.
        if (current && !(await this.deletePhysical(current, op, 'rollback'))) rollbackFailed = true;
        this.live.set(t.id, before);
        continue;
      }
      if (servedByProvider(before.type)) {
        const attempted = t.kind === 'failed' ? this.resolveProps(next, t.id) : current!.props;
        const outcome = await this.invoke(previous, t.id, definition, {
          RequestType: 'Update', ResourceProperties: before.props, OldResourceProperties: attempted,
          PhysicalResourceId: (current ?? before).physical.ref,
        }, 'rollback');
        const ok = outcome.response.Status === 'SUCCESS';
        this.record(op, { logicalId: t.id, type: before.type, physicalId: outcome.response.PhysicalResourceId, action: 'UPDATE', status: ok ? 'COMPLETE' : 'FAILED', phase: 'rollback', reason: ok ? undefined : outcome.response.Reason });
        if (!ok) rollbackFailed = true;
        this.live.set(t.id, { ...before, physical: ok ? customPhysical(outcome.response) : before.physical });
      } else {
        await this.updateNative(t.id, current!, definition, previous, before.props);
        this.live.set(t.id, before);
      }
    }
    this.template = previous;
    return this.end(op, rollbackFailed ? 'UPDATE_ROLLBACK_FAILED' : 'UPDATE_ROLLBACK_COMPLETE');
  }

  /**
   * Deletes the stack in `deletionOrder(template)` (or `order`, to show what a wrong order does).
   * Resources whose delete fails stay deployed, with everything they depend on, so the delete can be retried.
   */
  public async destroy(options: { order?: string[] } = {}): Promise<StackOperation> {
    const op = this.begin();
    const template = this.template;
    if (!template) return this.end(op, 'DELETE_COMPLETE');
    this.setStackStatus('DELETE_IN_PROGRESS');
    const blocked = new Set<string>();
    const graph = dependencyGraph(template);
    let failed = false;
    for (const wave of options.order ? options.order.map((id) => [id]) : this.deletionWaves(template)) {
      await Promise.all(wave.map(async (id) => {
        if (!this.live.has(id) || blocked.has(id)) return;
        if (!(await this.deleteResource(id, op, 'forward'))) {
          failed = true;
          for (const d of transitiveDependencies(template, id, graph)) blocked.add(d);
        }
      }));
    }
    if (failed) return this.end(op, 'DELETE_FAILED');
    this.template = undefined;
    this.emulator.removeStack(this.stackId);
    return this.end(op, 'DELETE_COMPLETE');
  }

  /**
   * Sends one request to a deployed custom resource outside a stack operation (e.g. an Update with
   * unchanged properties). The driver's state follows a successful response.
   */
  public async request(logicalId: string, requestType: RequestType, overrides: Partial<CfnRequest> = {}): Promise<CustomResourceInvocation> {
    const r = this.resource(logicalId);
    const outcome = await this.invoke(r.template, logicalId, r.definition, {
      RequestType: requestType,
      ResourceProperties: r.props,
      ...(requestType === 'Update' ? { OldResourceProperties: r.props } : {}),
      ...(requestType !== 'Create' ? { PhysicalResourceId: r.physical.ref } : {}),
      ...overrides,
    }, 'manual');
    if (outcome.response.Status === 'SUCCESS') {
      if (requestType === 'Delete') this.live.delete(logicalId);
      else this.live.set(logicalId, { ...r, props: (overrides.ResourceProperties as Record<string, unknown> | undefined) ?? r.props, physical: customPhysical(outcome.response) });
    }
    return outcome;
  }

  /**
   * A call CloudFormation makes for a native resource: CloudFormation retries throttling itself, for as long as
   * its own operation lasts (the driver's client shares one SDK retry quota among every concurrent delete).
   */
  private async asCloudFormation<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        if ((e as Error).name !== 'ThrottlingException' || attempt >= 200) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 2_000));
      }
    }
  }

  /** The bundle that serves a custom resource type. */
  private bundleFor(id: string, definition: DriverResource): string {
    const bundle = BUNDLE_BY_RESOURCE_TYPE[definition.Type];
    if (!bundle) throw new Error(`${id}: no bundle known for ${definition.Type}`);
    return bundle;
  }

  /**
   * A function of the template as the Lambda runtime runs it: the bundle export its Handler names, its Timeout,
   * and its sandboxes (`prepare` runs on every copy of the bundle the function loads).
   */
  private lambdaSpec(template: DriverTemplate, fnId: string, bundle: string, prepare: (module: BundleModule) => void = () => undefined): LambdaFunctionSpec {
    let module = this.bundles.get(bundle);
    if (!module) {
      module = loadBundle(bundle);
      this.bundles.set(bundle, module);
    }
    prepare(module);
    const p = template.Resources[fnId].Properties ?? {};
    const handler = String(p.Handler ?? '');
    if (!handler.startsWith('index.')) throw new Error(`${fnId}: Handler '${handler}' is not in the bundle's index.js`);
    return {
      functionName: fnId, module, exportName: handler.slice('index.'.length), timeoutMs: Number(p.Timeout ?? 3) * 1000,
      ...(this.options.concurrency ? { sandboxes: this.sandboxPool(`${bundle}|${fnId}`, bundle, prepare) } : {}),
    };
  }

  /** The sandboxes of one function (concurrency): fresh copies of its bundle, reused once idle. */
  private sandboxPool(key: string, bundle: string, prepare: (module: BundleModule) => void): SandboxPool {
    let pool = this.sandboxes.get(key);
    if (!pool) {
      pool = new SandboxPool(() => {
        const copy = loadBundle(bundle);
        prepare(copy);
        return copy;
      });
      this.sandboxes.set(key, pool);
    }
    return pool;
  }

  /** Sandboxes started per function (concurrency), by `<bundle>|<function logical id>`. */
  public get sandboxesStarted(): Record<string, number> {
    return Object.fromEntries([...this.sandboxes].map(([k, p]) => [k, p.started]));
  }

  /** The creation order in waves: one resource each, or (concurrency) every resource at the same dependency depth. */
  private creationWaves(template: DriverTemplate): string[][] {
    const order = creationOrder(template);
    if (!this.options.concurrency) return order.map((id) => [id]);
    const graph = dependencyGraph(template);
    const depth = new Map<string, number>();
    for (const id of order) depth.set(id, 1 + Math.max(-1, ...[...(graph.get(id) ?? [])].map((d) => depth.get(d) ?? 0)));
    return groupBy(order, depth);
  }

  /** The deletion order in waves: one resource each, or (concurrency) every resource at the same height (dependents first). */
  private deletionWaves(template: DriverTemplate): string[][] {
    const order = deletionOrder(template);
    if (!this.options.concurrency) return order.map((id) => [id]);
    const graph = dependencyGraph(template);
    const height = new Map<string, number>();
    for (const id of order) height.set(id, height.get(id) ?? 0);
    for (const id of order) {
      for (const d of graph.get(id) ?? []) height.set(d, Math.max(height.get(d) ?? 0, height.get(id)! + 1));
    }
    return groupBy(order, height);
  }

  // ------------------------------------------------------------------ resources

  private resolveProps(template: DriverTemplate, id: string): Record<string, unknown> {
    const env = this.resolveEnv();
    const resolved = resolve(template, template.Resources[id].Properties ?? {}, env) as Record<string, unknown>;
    return isCustomResource(template.Resources[id].Type) ? stringifyScalars(resolved) as Record<string, unknown> : resolved;
  }

  private async createResource(template: DriverTemplate, id: string, op: StackOperation, phase: StackEvent['phase']): Promise<boolean> {
    const definition = template.Resources[id];
    if (this.options.physicalIds?.[id]) return true;
    const props = this.resolveProps(template, id);
    const base = { logicalId: id, type: definition.Type, definition, template, props };
    if (isCrossRegionReference(definition.Type)) {
      const physical = applyCrossRegionReference(this.emulator, id, definition.Type, props);
      this.live.set(id, { ...base, physical });
      this.record(op, { logicalId: id, type: definition.Type, physicalId: physical.ref, action: 'CREATE', status: 'COMPLETE', phase });
      return true;
    }
    if (servedByProvider(definition.Type)) {
      const outcome = await this.invoke(template, id, definition, { RequestType: 'Create', ResourceProperties: props }, phase === 'forward' ? 'forward' : 'rollback');
      const physical = customPhysical(outcome.response);
      const ok = outcome.response.Status === 'SUCCESS';
      // A failed Create still leaves a resource for CloudFormation to delete (with the marker id).
      this.live.set(id, { ...base, physical });
      this.record(op, { logicalId: id, type: definition.Type, physicalId: physical.ref, action: 'CREATE', status: ok ? 'COMPLETE' : 'FAILED', phase, reason: ok ? undefined : outcome.response.Reason });
      return ok;
    }
    let physical: PhysicalIds;
    switch (definition.Type) {
      case 'AWS::KMS::Key': {
        const key = this.emulator.createKey({
          origin: (props.Origin as 'EXTERNAL' | 'AWS_KMS' | undefined) ?? 'AWS_KMS',
          keySpec: props.KeySpec as string | undefined,
          keyUsage: props.KeyUsage as string | undefined,
          multiRegion: props.MultiRegion === true || props.MultiRegion === 'true',
          description: props.Description as string | undefined,
          enabled: props.Enabled === false || props.Enabled === 'false' ? false : undefined,
          region: this.env.region,
        });
        physical = { ref: key.keyId, arn: key.arn, attributes: { KeyId: key.keyId } };
        break;
      }
      case 'AWS::KMS::ReplicaKey': {
        const primaryArn = String(props.PrimaryKeyArn);
        const replica = this.emulator.replicateKey(primaryArn, this.env.region, primaryArn.split(':')[3]);
        physical = { ref: replica.keyId, arn: replica.arn, attributes: { KeyId: replica.keyId, Arn: replica.arn } };
        break;
      }
      case 'AWS::SecretsManager::Secret': {
        const value = secretValueFor(this.options.secretValues, id) ?? { secretString: crypto.randomBytes(32).toString('base64') };
        const replicaRegions = (props.ReplicaRegions as Array<{ Region: string }> | undefined)?.map((r) => r.Region);
        const arn = this.emulator.putSecret({ name: (props.Name as string | undefined) ?? `${this.stackName}-${id}`, ...value, region: this.env.region, replicaRegions });
        physical = { ref: arn, arn };
        break;
      }
      default: {
        const env = this.resolveEnv();
        physical = { ref: String(resolve(template, { Ref: id }, env)), arn: String(resolve(template, { 'Fn::GetAtt': [id, 'Arn'] }, env)) };
      }
    }
    this.live.set(id, { ...base, physical });
    this.record(op, { logicalId: id, type: definition.Type, physicalId: physical.ref, action: 'CREATE', status: 'COMPLETE', phase });
    return true;
  }

  private async updateNative(id: string, before: LiveResource, definition: DriverResource, template: DriverTemplate, props: Record<string, unknown>): Promise<void> {
    if (definition.Type === 'AWS::KMS::Key') {
      const enabled = !(props.Enabled === false || props.Enabled === 'false');
      const wasEnabled = !(before.props.Enabled === false || before.props.Enabled === 'false');
      if (enabled !== wasEnabled) {
        await this.kms.send(enabled ? new EnableKeyCommand({ KeyId: before.physical.ref }) : new DisableKeyCommand({ KeyId: before.physical.ref }));
      }
    }
    const physical = isCrossRegionReference(definition.Type) ? applyCrossRegionReference(this.emulator, id, definition.Type, props) : before.physical;
    this.live.set(id, { ...before, definition, template, props, physical });
  }

  private async deleteResource(id: string, op: StackOperation, phase: StackEvent['phase']): Promise<boolean> {
    const r = this.live.get(id);
    if (!r) return true;
    const ok = await this.deletePhysical(r, op, phase);
    if (ok) this.live.delete(id);
    return ok;
  }

  /** Deletes one physical resource (a live one, or an old one replaced during an update). */
  private async deletePhysical(r: LiveResource, op: StackOperation, phase: StackEvent['phase'], policy: 'DeletionPolicy' | 'UpdateReplacePolicy' = 'DeletionPolicy'): Promise<boolean> {
    // A resource replaced during an update follows its UpdateReplacePolicy; a removed or deleted one its DeletionPolicy.
    const rule = r.definition[policy];
    const retain = rule === 'Retain' || (rule === 'RetainExceptOnCreate' && phase !== 'rollback');
    if (servedByProvider(r.type)) {
      if (retain) {
        this.record(op, { logicalId: r.logicalId, type: r.type, physicalId: r.physical.ref, action: 'DELETE', status: 'RETAINED', phase });
        return true;
      }
      const outcome = await this.invoke(r.template, r.logicalId, r.definition, {
        RequestType: 'Delete', ResourceProperties: r.props, PhysicalResourceId: r.physical.ref,
      }, phase);
      const ok = outcome.response.Status === 'SUCCESS';
      this.record(op, { logicalId: r.logicalId, type: r.type, physicalId: r.physical.ref, action: 'DELETE', status: ok ? 'COMPLETE' : 'FAILED', phase, reason: ok ? undefined : outcome.response.Reason });
      return ok;
    }
    if (retain) {
      this.record(op, { logicalId: r.logicalId, type: r.type, physicalId: r.physical.ref, action: 'DELETE', status: 'RETAINED', phase });
      return true;
    }
    if (r.type === 'AWS::KMS::Key' || r.type === 'AWS::KMS::ReplicaKey') {
      const days = Number(r.props.PendingWindowInDays ?? 30);
      try {
        await this.asCloudFormation(() => this.kms.send(new ScheduleKeyDeletionCommand({ KeyId: r.physical.ref, PendingWindowInDays: days })));
      } catch (e) {
        const name = (e as Error).name;
        if (name !== 'NotFoundException' && name !== 'KMSInvalidStateException') {
          this.record(op, { logicalId: r.logicalId, type: r.type, physicalId: r.physical.ref, action: 'DELETE', status: 'FAILED', phase, reason: String(e) });
          return false;
        }
      }
    } else if (r.type === 'AWS::SecretsManager::Secret') {
      this.emulator.deleteSecret(r.physical.ref, this.env.region);
    } else if (isCrossRegionReference(r.type)) {
      deleteCrossRegionReference(this.emulator, r.type, r.props);
    }
    this.record(op, { logicalId: r.logicalId, type: r.type, physicalId: r.physical.ref, action: 'DELETE', status: 'COMPLETE', phase });
    return true;
  }

  // ------------------------------------------------------------------ custom resources

  private async invoke(template: DriverTemplate, id: string, definition: DriverResource, request: Pick<CfnRequest, 'RequestType' | 'ResourceProperties'> & Partial<CfnRequest>, phase: CustomResourceInvocation['phase']): Promise<CustomResourceInvocation> {
    const missingDependencies = this.missingDependencies(template, id);
    const requestId = crypto.randomUUID();
    const responseUrl = `https://cloudformation-custom-resource-response-${this.env.region.replace(/-/g, '')}.s3.amazonaws.com/` +
      `${encodeURIComponent(`${this.stackId}|${id}|${requestId}`)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=${crypto.randomBytes(32).toString('hex')}`;
    this.responseUrls.push(responseUrl);
    const full: CfnRequest = {
      ServiceToken: String(request.ResourceProperties.ServiceToken ?? ''),
      ResponseURL: responseUrl,
      StackId: this.stackId,
      RequestId: requestId,
      LogicalResourceId: id,
      ResourceType: definition.Type,
      ...request,
    };
    let outcome: ProviderOutcome;
    // The handler runs in this stack's Region (its SDK clients resolve the Region on their first call).
    if (this.options.configureEnvironment !== false) useEmulatorEnvironment(this.emulator, this.env);
    const unreachable = this.providerMissing(template, id);
    if (unreachable) {
      // CloudFormation cannot invoke a deleted provider: the request fails without a handler call.
      outcome = {
        request: full, invocations: [], polls: 0, realMs: 0, elapsedMs: 0,
        response: {
          Status: 'FAILED', Reason: unreachable, StackId: this.stackId, RequestId: requestId, LogicalResourceId: id,
          PhysicalResourceId: full.PhysicalResourceId ?? CREATE_FAILED_MARKER,
        },
      };
    } else {
      outcome = await this.runtime(template, id, definition).handle(full);
    }
    const serviceTimeoutMs = Number(full.ResourceProperties.ServiceTimeout ?? 3600) * 1000;
    const invocation: CustomResourceInvocation = { ...outcome, missingDependencies, phase, serviceTimeoutMs };
    this.responses.push(outcome.response);
    this.invocations.push(invocation);
    return invocation;
  }

  /** Dependencies of `id` that are gone, or (keys) scheduled for deletion, in the emulator. */
  private missingDependencies(template: DriverTemplate, id: string): string[] {
    const missing: string[] = [];
    const state = this.emulator.state(this.env.region);
    const keys = state.keys as Array<{ KeyId: string; KeyState: string }>;
    const secrets = state.secrets as Array<{ arn: string }>;
    for (const dep of transitiveDependencies(template, id)) {
      const r = this.live.get(dep);
      if (!r) { missing.push(dep); continue; }
      if (r.type === 'AWS::KMS::Key' || r.type === 'AWS::KMS::ReplicaKey') {
        const key = keys.find((k) => k.KeyId === r.physical.ref);
        if (!key || key.KeyState === 'PendingDeletion' || key.KeyState === 'PendingReplicaDeletion') missing.push(dep);
      } else if (r.type === 'AWS::SecretsManager::Secret') {
        if (!secrets.some((s) => s.arn === r.physical.ref)) missing.push(dep);
      }
    }
    return missing.sort();
  }

  /** Why the provider of `id` cannot be invoked (its functions or their roles are gone), or undefined. */
  private providerMissing(template: DriverTemplate, id: string): string | undefined {
    const functions = this.providerFunctions(template, id);
    for (const fn of [functions.frameworkOnEvent, functions.onEvent, functions.isComplete]) {
      if (!fn) continue;
      if (!this.live.has(fn)) return `Lambda function ${fn} does not exist (deleted before ${id})`;
      for (const role of referencesIn(template.Resources[fn].Properties?.Role ?? {})) {
        if (!this.live.has(role)) return `The role of ${fn} (${role}) does not exist (deleted before ${id})`;
      }
    }
    return undefined;
  }

  /**
   * The functions behind the ServiceToken of `id`: a Provider framework (its onEvent function names the user
   * functions), or a single function that answers CloudFormation itself (`direct`, through the aws-cdk-lib entrypoint).
   */
  private providerFunctions(template: DriverTemplate, id: string): { frameworkOnEvent: string; onEvent: string; isComplete?: string; stateMachine?: string; direct?: boolean } {
    const token = template.Resources[id].Properties?.ServiceToken;
    const [frameworkOnEvent] = [...referencesIn(token ?? {})];
    const fw = template.Resources[frameworkOnEvent];
    if (!fw || fw.Type !== 'AWS::Lambda::Function') throw new Error(`${id}: ServiceToken does not name a Lambda function of the template`);
    const vars = (fw.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
    const [onEvent] = [...referencesIn(vars.USER_ON_EVENT_FUNCTION_ARN ?? {})];
    if (!onEvent) return { frameworkOnEvent, onEvent: frameworkOnEvent, direct: true };
    const [isComplete] = [...referencesIn(vars.USER_IS_COMPLETE_FUNCTION_ARN ?? {})];
    const [stateMachine] = [...referencesIn(vars.WAITER_STATE_MACHINE_ARN ?? {})];
    return { frameworkOnEvent, onEvent, isComplete, stateMachine };
  }

  /**
   * The runtime behind the ServiceToken of `id`: the Provider framework, or (a single function) aws-cdk-lib's
   * custom resource entrypoint bundled in front of the handler (entrypoint.ts).
   */
  private runtime(template: DriverTemplate, id: string, definition: DriverResource): CustomResourceRuntime {
    const functions = this.providerFunctions(template, id);
    const cacheKey = `${functions.frameworkOnEvent}|${functions.onEvent}|${functions.isComplete ?? ''}`;
    const cached = this.runtimes.get(cacheKey);
    if (cached) return cached;
    if (functions.direct) {
      const direct = new EntrypointRuntime(this.lambdaSpec(template, functions.onEvent, this.bundleFor(id, definition), connectEntrypoint), {
        budgetMs: this.options.lambdaBudgetMs,
        onInvocation: (record) => this.options.onInvocation?.(record),
      });
      this.runtimes.set(cacheKey, direct);
      return direct;
    }
    const runtime = new ProviderFrameworkRuntime(this.providerSpec(template, id, definition, functions), {
      budgetMs: this.options.lambdaBudgetMs,
      onInvocation: (record) => this.options.onInvocation?.(record),
      wait: this.options.wait ?? (async (ms) => {
        this.emulator.advanceTime(ms);
        await new Promise((r) => setImmediate(r));
      }),
    });
    this.runtimes.set(cacheKey, runtime);
    return runtime;
  }

  /** The Provider framework of `id`: its onEvent function's environment, the user functions and the waiter. */
  private providerSpec(
    template: DriverTemplate, id: string, definition: DriverResource, functions: ReturnType<LifecycleDriver['providerFunctions']>,
  ): ProviderSpec {
    const bundle = this.bundleFor(id, definition);
    const env = this.resolveEnv();
    const variables = (template.Resources[functions.frameworkOnEvent].Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
    const environment = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(resolve(template, v, env))]));
    const lambdaSpec = (fnId: string): LambdaFunctionSpec => this.lambdaSpec(template, fnId, bundle);
    const arnOf = (fnId: string) => String(resolve(template, { 'Fn::GetAtt': [fnId, 'Arn'] }, env));
    const userFunctions: ProviderSpec['functions'] = {
      [arnOf(functions.onEvent)]: { kind: 'onEvent', spec: lambdaSpec(functions.onEvent) },
      ...(functions.isComplete ? { [arnOf(functions.isComplete)]: { kind: 'isComplete' as const, spec: lambdaSpec(functions.isComplete) } } : {}),
    };
    let waiter: ProviderSpec['waiter'];
    if (functions.stateMachine) {
      const sm = template.Resources[functions.stateMachine].Properties ?? {};
      const retry = JSON.parse(String(resolve(template, sm.DefinitionString, env))).States['framework-isComplete-task'].Retry[0];
      const intervalMs = this.options.waiter?.queryIntervalMs ?? retry.IntervalSeconds * 1000;
      const totalTimeoutMs = this.options.waiter?.totalTimeoutMs ?? retry.MaxAttempts * retry.IntervalSeconds * 1000;
      waiter = { intervalMs, maxAttempts: Math.round(totalTimeoutMs / intervalMs), backoffRate: retry.BackoffRate ?? 1 };
    }
    return { environment, functions: userFunctions, waiter };
  }

  // ------------------------------------------------------------------ bookkeeping

  private begin(): StackOperation {
    const op: StackOperation = { status: 'CREATE_COMPLETE', events: [], invocations: [], failures: [] };
    opStarts.set(op, this.invocations.length);
    return op;
  }

  private end(op: StackOperation, status: StackStatus): StackOperation {
    this.status = status;
    if (status !== 'DELETE_COMPLETE') this.setStackStatus(status);
    return { ...op, status, invocations: this.invocations.slice(opStarts.get(op) ?? 0) };
  }

  private record(op: StackOperation, event: StackEvent): void {
    op.events.push(event);
    this.events.push(event);
    if (event.status === 'FAILED') op.failures.push(event);
  }

  private setStackStatus(status: string): void {
    this.emulator.setStackStatus(this.stackId, status);
  }
}

/** Where each stack operation's invocations start. */
const opStarts = new WeakMap<StackOperation, number>();

/** The value for a secret: by logical id, or by construct id (the logical id without its 8-digit hash). */
function secretValueFor(values: Record<string, SecretValue> | undefined, logicalId: string): SecretValue | undefined {
  if (!values) return undefined;
  if (values[logicalId]) return values[logicalId];
  const match = Object.keys(values).find((k) => new RegExp(`^${k}[0-9A-F]{8}$`).test(logicalId));
  return match ? values[match] : undefined;
}

export function isCustomResource(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

/** Custom resources sent to their provider (aws-cdk-lib's cross-Region references are played natively). */
function servedByProvider(type: string): boolean {
  return isCustomResource(type) && !isCrossRegionReference(type);
}

/** `order` split into groups of equal `level`, lowest first, each in `order`'s order. */
function groupBy(order: string[], level: Map<string, number>): string[][] {
  const groups = new Map<number, string[]>();
  for (const id of order) {
    const l = level.get(id) ?? 0;
    groups.set(l, [...(groups.get(l) ?? []), id]);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((l) => groups.get(l)!);
}

/** The physical ids a custom resource's response gives. */
function customPhysical(response: CfnResponse): PhysicalIds {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(response.Data ?? {})) attributes[k] = String(v);
  return { ref: response.PhysicalResourceId, arn: response.PhysicalResourceId, attributes };
}

/** The order CloudFormation creates resources in: dependencies first. */
export function creationOrder(template: DriverTemplate): string[] {
  return [...deletionOrder(template)].reverse();
}

/** CloudFormation sends custom resources every scalar as a string. */
export function stringifyScalars(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringifyScalars);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, stringifyScalars(v)]));
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
