/**
 * The HTTP server: one endpoint answers KMS and Secrets Manager (JSON 1.1, routed by the
 * X-Amz-Target prefix) and CloudFormation (Query protocol, form-encoded `Action=`).
 * Signatures are not checked.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Stacks, errorXml } from './cloudformation';
import { ServiceError, err } from './errors';
import { Fault, FaultInjector, FaultKind, FaultOptions, FaultStats } from './faults';
import { KmsKeys, MultiRegionPeers, SeedKey, SeededKey } from './kms';
import { QuotaOptions, QuotaStats, RequestQuotas, throttlingError } from './quotas';
import { SeedSecret, Secrets } from './secrets';
import { CustomKeyStores, SeedCustomKeyStore, StoreBehaviour } from './stores';
import { Input, Output } from './wire';

export interface EmulatorOptions {
  /**
   * The home Region (default 'us-east-1'): seeding and `state()` use it unless told otherwise. Requests
   * are served in the Region of their SigV4 credential scope (the Region the SDK client signs for), so one
   * endpoint serves every Region; a request without a signature is served in the home Region. Key ARNs of
   * another Region than the request's are NotFoundException.
   */
  region?: string;
  /** Default '111122223333'. */
  accountId?: string;
  /** Default time CONNECTING lasts before CONNECTED/FAILED. Default 20 ms. */
  connectDelayMs?: number;
  /** Default time DISCONNECTING lasts. Default 20 ms. */
  disconnectDelayMs?: number;
  /** Base clock in epoch ms (default Date.now); `advanceTime` adds an offset on top. */
  now?: () => number;
  /** Listen port on 127.0.0.1. Default 0 (random). */
  port?: number;
  /**
   * Enforce KMS's request quotas (token buckets per operation, see quotas.ts): `true` for the defaults.
   * Default off, so that the fast tests stay fast.
   */
  quotas?: boolean | QuotaOptions;
}

export type ServiceName = 'kms' | 'secretsmanager' | 'cloudformation';

export interface CallRecord {
  service: ServiceName;
  operation: string;
  /** The request members; binary (blob) members are replaced by their length in bytes. */
  input: Record<string, unknown>;
  /** ok = answered 200; error = service error; fault = injected fault (see `fault`). */
  outcome: 'ok' | 'error' | 'fault';
  /** Error name (`__type` / Query `Code`), for outcome error and for error-kind faults. */
  error?: string;
  message?: string;
  fault?: FaultKind;
  /** The Region the request was served in (its SigV4 credential scope). */
  region: string;
  /** The request was refused by a request quota (ThrottlingException, nothing ran). */
  throttled?: boolean;
  at: string;
}

export interface EmulatorState {
  keys: unknown[];
  customKeyStores: unknown[];
  secrets: unknown[];
  stacks: Record<string, string>;
  outstandingImportTokens: number;
  now: string;
}

const BLOB_MEMBERS = new Set(['Plaintext', 'CiphertextBlob', 'ImportToken', 'EncryptedKeyMaterial', 'PublicKey', 'SecretBinary']);

export class Emulator {
  public readonly calls: CallRecord[] = [];
  private readonly server: http.Server;
  private readonly faults = new FaultInjector();
  private readonly homeRegion: string;
  private readonly accountId: string;
  private readonly regional = new Map<string, { kms: KmsKeys; secrets: Secrets }>();
  private readonly peers: MultiRegionPeers;
  /** Secrets Manager replication: primary name -> replica Regions, for later versions. */
  private readonly secretReplicas = new Map<string, { region: string; replicaRegions: string[] }>();
  private readonly stores: CustomKeyStores;
  private readonly stacks: Stacks;
  /** Request quota options while quotas are on; the buckets of each Region (quotas are per account and Region). */
  private quotaOptions?: QuotaOptions;
  private readonly quotas = new Map<string, RequestQuotas>();
  private timeOffsetMs = 0;
  private url = '';
  private readonly now: () => number;

  constructor(options: EmulatorOptions = {}) {
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '111122223333';
    const base = options.now ?? Date.now;
    const now = () => base() + this.timeOffsetMs;
    this.now = now;
    this.stores = new CustomKeyStores(now, {
      connectDelayMs: options.connectDelayMs ?? 20,
      disconnectDelayMs: options.disconnectDelayMs ?? 20,
      accountId,
    });
    this.homeRegion = region;
    this.accountId = accountId;
    this.peers = { kmsOf: (r) => this.inRegion(r).kms, regions: () => [...this.regional.keys()] };
    this.inRegion(region);
    this.stacks = new Stacks(now, region, accountId);
    this.setQuotas(options.quotas ?? false);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent && !res.destroyed) {
          send(res, 500, 'application/x-amz-json-1.1', JSON.stringify({ __type: 'InternalFailure', message: String(e) }));
        }
      });
    });
  }

  /** The KMS and Secrets Manager of a Region, created on first use (custom key stores and stacks are account-wide). */
  private inRegion(region: string): { kms: KmsKeys; secrets: Secrets } {
    let services = this.regional.get(region);
    if (!services) {
      services = {
        kms: new KmsKeys(this.now, region, this.accountId, this.stores, this.peers),
        secrets: new Secrets(this.now, region, this.accountId),
      };
      this.regional.set(region, services);
    }
    return services;
  }

  /** `http://127.0.0.1:PORT` — pass as `endpoint` to the SDK clients. */
  public get endpoint(): string {
    return this.url;
  }

  public async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  public async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ------------------------------------------------------------------ inspection

  /**
   * Deep copy of everything in `region` (default: the home Region), JSON-friendly (dates as ISO strings).
   * Secret values included: test-only.
   */
  public state(region: string = this.homeRegion): EmulatorState {
    this.sweep();
    const services = this.inRegion(region);
    return JSON.parse(JSON.stringify({
      keys: services.kms.dump(),
      customKeyStores: this.stores.dump(),
      secrets: services.secrets.dump(),
      stacks: this.stacks.dump(),
      outstandingImportTokens: services.kms.outstandingImportTokens(),
      now: new Date(this.now()).toISOString(),
    }));
  }

  public stats(): FaultStats {
    return this.faults.snapshot();
  }

  public resetCalls(): void {
    this.calls.length = 0;
    this.faults.resetStats();
    for (const q of this.quotas.values()) q.resetStats();
  }

  // ------------------------------------------------------------------ seeding

  /** Create a key directly (no HTTP), in `seed.region` (default: home). EXTERNAL keys can be given plaintext `material`. */
  public createKey(seed: SeedKey = {}): SeededKey {
    return this.inRegion(seed.region ?? this.homeRegion).kms.seed(seed);
  }

  /**
   * ReplicateKey without HTTP: a replica of the multi-Region primary `keyIdOrArn` (in `region`, default
   * home) in `replicaRegion`. Returns the replica's key id (the primary's) and ARN.
   */
  public replicateKey(keyIdOrArn: string, replicaRegion: string, region: string = this.homeRegion): SeededKey {
    const out = this.inRegion(region).kms.replicateKey({ KeyId: keyIdOrArn, ReplicaRegion: replicaRegion });
    const metadata = out.ReplicaKeyMetadata as { KeyId: string; Arn: string };
    return { keyId: metadata.KeyId, arn: metadata.Arn };
  }

  /**
   * Create a secret or add a version, in `seed.region` (default: home) and, as Secrets Manager replication
   * does, with the same name, suffix and version in each of `seed.replicaRegions` (remembered for later
   * versions). Returns the secret ARN in `seed.region`.
   */
  public putSecret(seed: SeedSecret): string {
    const region = seed.region ?? this.homeRegion;
    if (seed.replicaRegions) this.secretReplicas.set(seed.name, { region, replicaRegions: [...seed.replicaRegions] });
    const replication = this.secretReplicas.get(seed.name);
    const versioned = { ...seed, versionId: seed.versionId ?? crypto.randomUUID() };
    const arn = this.inRegion(region).secrets.put(versioned);
    if (replication && replication.region === region) {
      const suffix = arn.slice(-6);
      for (const r of replication.replicaRegions) this.inRegion(r).secrets.put(versioned, suffix);
    }
    return arn;
  }

  public deleteSecret(nameOrArn: string, region: string = this.homeRegion): void {
    this.inRegion(region).secrets.delete(nameOrArn);
  }

  /** Create a custom key store directly. Returns its id (`cks-` + 17 hex digits). */
  public createCustomKeyStore(seed: SeedCustomKeyStore): string {
    return this.stores.seed(seed);
  }

  /** Per-store connect/disconnect delays and forced connection failure. */
  public setStoreBehaviour(storeIdOrName: string, behaviour: StoreBehaviour): void {
    this.stores.setBehaviour(storeIdOrName, behaviour);
  }

  /** Set what DescribeStacks reports (default CREATE_COMPLETE for any stack). Returns the stack id. */
  public setStackStatus(stackIdOrName: string, status: string, reason?: string): string {
    return this.stacks.setStatus(stackIdOrName, status, reason);
  }

  /** DescribeStacks will answer ValidationError "Stack with id X does not exist". */
  public removeStack(stackIdOrName: string): void {
    this.stacks.remove(stackIdOrName);
  }

  /** Move the emulator's clock forward (material expiry, deletion windows, store transitions, token expiry). */
  public advanceTime(ms: number): void {
    this.timeOffsetMs += ms;
  }

  // ------------------------------------------------------------------ request quotas

  /** Turns KMS's request quotas on (`true`: the defaults) or off (`false`); new buckets start full. */
  public setQuotas(options: boolean | QuotaOptions): void {
    this.quotas.clear();
    this.quotaOptions = options === false ? undefined : options === true ? {} : options;
  }

  /** Requests admitted and throttled by the quotas, by operation, over every Region (or one). */
  public quotaStats(region?: string): QuotaStats {
    const total: QuotaStats = { admitted: {}, throttled: {} };
    for (const [r, q] of this.quotas) {
      if (region && r !== region) continue;
      const s = q.snapshot();
      for (const kind of ['admitted', 'throttled'] as const) {
        for (const [op, n] of Object.entries(s[kind])) total[kind][op] = (total[kind][op] ?? 0) + n;
      }
    }
    return total;
  }

  /** False when the request is over its Region's quota for the operation. */
  private admit(region: string, operation: string): boolean {
    if (!this.quotaOptions) return true;
    let q = this.quotas.get(region);
    if (!q) {
      q = new RequestQuotas(this.quotaOptions);
      this.quotas.set(region, q);
    }
    return q.admit(operation);
  }

  // ------------------------------------------------------------------ faults

  /** Random faults from a seeded PRNG; `null` turns them off. */
  public injectFaults(options: FaultOptions | null): void {
    this.faults.inject(options);
  }

  /** The next `count` calls of `operation` (e.g. 'DescribeKey', 'GetSecretValue', 'DescribeStacks') fail with `kind`. */
  public failNext(operation: string, count: number, kind: FaultKind): void {
    this.faults.failNext(operation, count, kind);
  }

  public clearFaults(): void {
    this.faults.clear();
  }

  // ------------------------------------------------------------------ protocol

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const requestId = crypto.randomUUID();
    const target = header(req, 'x-amz-target');
    if (target) {
      await this.handleJson(target, body, requestId, req, res);
    } else if ((header(req, 'content-type') ?? '').includes('application/x-www-form-urlencoded')) {
      await this.handleQuery(new URLSearchParams(body.toString('utf8')), requestId, req, res);
    } else {
      sendJson(res, requestId, 400, { __type: 'UnknownOperationException', message: `Unroutable request ${req.method} ${req.url}` });
    }
  }

  private async handleJson(target: string, body: Buffer, requestId: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const dot = target.indexOf('.');
    const prefix = target.slice(0, dot);
    const operation = target.slice(dot + 1);
    const service: ServiceName | undefined = prefix === 'TrentService' ? 'kms' : prefix === 'secretsmanager' ? 'secretsmanager' : undefined;
    let input: Input = {};
    try {
      const text = body.toString('utf8').trim();
      input = text ? JSON.parse(text) : {};
    } catch {
      sendJson(res, requestId, 400, { __type: 'SerializationException', message: 'Request body is not valid JSON' });
      return;
    }
    if (!service) {
      sendJson(res, requestId, 400, { __type: 'UnknownOperationException', message: `Unknown target ${target}` });
      return;
    }
    const region = signedRegion(req) ?? this.homeRegion;
    const record = this.record(service, operation, input, region);
    if (service === 'kms' && !this.admit(region, operation)) {
      const e = throttlingError();
      Object.assign(record, { outcome: 'error', error: e.type, message: e.message, throttled: true });
      sendJson(res, requestId, e.status, { __type: e.type, message: e.message });
      return;
    }
    const fault = this.faults.decide(operation);
    if (fault && (await this.applyFault(fault, record, req))) {
      const e = faultError(fault.kind, service);
      record.error = e.type;
      sendJson(res, requestId, e.status, { __type: e.type, message: e.message });
      return;
    }
    if (fault && fault.kind === 'dropConnection') return;
    try {
      const out = await this.dispatch(service, operation, input, region);
      record.outcome = 'ok'; // a 'slow' fault still answers normally
      sendJson(res, requestId, 200, out);
    } catch (e) {
      const se = e instanceof ServiceError ? e : new ServiceError('InternalFailure', `Emulator bug: ${(e as Error).stack ?? e}`, 500);
      record.outcome = 'error';
      record.error = se.type;
      record.message = se.message;
      sendJson(res, requestId, se.status, { __type: se.type, message: se.message });
    }
  }

  private async handleQuery(params: URLSearchParams, requestId: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const operation = params.get('Action') ?? '';
    const input: Input = {};
    params.forEach((v, k) => {
      if (k !== 'Action' && k !== 'Version') input[k] = v;
    });
    const record = this.record('cloudformation', operation, input, signedRegion(req) ?? this.homeRegion);
    const xmlType = 'text/xml';
    const fault = this.faults.decide(operation);
    if (fault && (await this.applyFault(fault, record, req))) {
      const e = faultError(fault.kind, 'cloudformation');
      record.error = e.type;
      send(res, e.status, xmlType, errorXml(e.type, e.message, requestId, e.status < 500), requestId);
      return;
    }
    if (fault && fault.kind === 'dropConnection') return;
    try {
      if (operation !== 'DescribeStacks') throw err('InvalidAction', `The action ${operation} is not valid for this web service.`);
      const xml = this.stacks.describeStacks(params, requestId);
      record.outcome = 'ok'; // a 'slow' fault still answers normally
      send(res, 200, xmlType, xml, requestId);
    } catch (e) {
      const se = e instanceof ServiceError ? e : new ServiceError('InternalFailure', String(e), 500);
      record.outcome = 'error';
      record.error = se.type;
      record.message = se.message;
      send(res, se.status, xmlType, errorXml(se.type, se.message, requestId, se.status < 500), requestId);
    }
  }

  /** Returns true when the fault is an error response the caller must send. */
  private async applyFault(fault: Fault, record: CallRecord, req: http.IncomingMessage): Promise<boolean> {
    record.outcome = 'fault';
    record.fault = fault.kind;
    switch (fault.kind) {
      case 'dropConnection':
        req.socket.destroy();
        return false;
      case 'slow':
        await new Promise((r) => setTimeout(r, fault.slowMs));
        return false;
      default:
        return true;
    }
  }

  private record(service: ServiceName, operation: string, input: Input, region: string): CallRecord {
    const record: CallRecord = { service, operation, region, input: redactBlobs(input) as Record<string, unknown>, outcome: 'ok', at: new Date().toISOString() };
    this.calls.push(record);
    return record;
  }

  /** Lazy housekeeping in every Region (a replica's deletion ends its primary's PendingReplicaDeletion). */
  private sweep(): void {
    for (const { kms } of this.regional.values()) kms.sweep();
  }

  private async dispatch(service: ServiceName, operation: string, input: Input, region: string): Promise<Output> {
    const services = this.inRegion(region);
    if (service === 'secretsmanager') {
      if (operation === 'GetSecretValue') return services.secrets.getSecretValue(input);
      throw err('UnknownOperationException', `The emulator does not implement secretsmanager.${operation}`);
    }
    this.sweep();
    const k = services.kms;
    const s = this.stores;
    switch (operation) {
      case 'CreateKey': return k.createKey(input);
      case 'DescribeKey': return k.describeKey(input);
      case 'ListKeys': return k.listKeys(input);
      case 'EnableKey': return k.enableKey(input);
      case 'DisableKey': return k.disableKey(input);
      case 'ScheduleKeyDeletion': return k.scheduleKeyDeletion(input);
      case 'CancelKeyDeletion': return k.cancelKeyDeletion(input);
      case 'GetParametersForImport': return k.getParametersForImport(input);
      case 'ImportKeyMaterial': return k.importKeyMaterial(input);
      case 'DeleteImportedKeyMaterial': return k.deleteImportedKeyMaterial(input);
      case 'RotateKeyOnDemand': return k.rotateKeyOnDemand(input);
      case 'ListKeyRotations': return k.listKeyRotations(input);
      case 'ReplicateKey': return k.replicateKey(input);
      case 'Encrypt': return k.encrypt(input);
      case 'Decrypt': return k.decrypt(input);
      case 'CreateCustomKeyStore': return s.create(input);
      case 'DescribeCustomKeyStores': return s.describe(input);
      case 'ConnectCustomKeyStore': return s.connect(input);
      case 'DisconnectCustomKeyStore': return s.disconnect(input);
      case 'UpdateCustomKeyStore': return s.update(input);
      case 'DeleteCustomKeyStore': return s.delete(input, (id) => k.keysInStore(id));
      default:
        throw err('UnknownOperationException', `The emulator does not implement TrentService.${operation}`);
    }
  }
}

/** Start an emulator on 127.0.0.1 (random port unless `options.port`). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return new Emulator(options).listen(options.port ?? 0);
}

function faultError(kind: FaultKind, service: ServiceName): ServiceError {
  const message = `Injected fault: ${kind}`;
  if (service === 'cloudformation') {
    if (kind === 'ThrottlingException') return new ServiceError('Throttling', 'Rate exceeded', 400);
    return new ServiceError('InternalFailure', message, kind === 'DependencyTimeoutException' ? 503 : 500);
  }
  if (service === 'secretsmanager' && kind === 'KMSInternalException') return new ServiceError('InternalServiceError', message, 500);
  if (service === 'secretsmanager' && kind === 'DependencyTimeoutException') return new ServiceError('ServiceUnavailable', message, 503);
  return new ServiceError(kind, kind === 'ThrottlingException' ? 'Rate exceeded' : message);
}

function redactBlobs(value: unknown, name?: string): unknown {
  if (name && BLOB_MEMBERS.has(name) && typeof value === 'string') return Buffer.from(value, 'base64').length;
  if (Array.isArray(value)) return value.map((v) => redactBlobs(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactBlobs(v, k)]));
  }
  return value;
}

/** The Region of the request's SigV4 credential scope (`Credential=AKID/20261201/eu-west-1/kms/aws4_request`). */
function signedRegion(req: http.IncomingMessage): string | undefined {
  const m = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\//.exec(header(req, 'authorization') ?? '');
  return m?.[1];
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, requestId: string, status: number, body: unknown): void {
  send(res, status, 'application/x-amz-json-1.1', JSON.stringify(body), requestId);
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string, requestId?: string): void {
  if (res.destroyed) return;
  const data = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': data.length,
    ...(requestId ? { 'x-amzn-requestid': requestId } : {}),
  });
  res.end(data);
}
