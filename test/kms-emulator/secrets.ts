/** Secrets Manager: just enough for GetSecretValue (by name, full ARN or partial ARN). */
import * as crypto from 'node:crypto';
import { err } from './errors';
import { Input, Output, b64, compact, optString, reqString, ts } from './wire';

export interface SeedSecret {
  name: string;
  secretString?: string;
  secretBinary?: Buffer;
  /** Default: a random UUID. */
  versionId?: string;
  /** Default ['AWSCURRENT']; the previous AWSCURRENT version becomes AWSPREVIOUS. */
  versionStages?: string[];
  /** Region of the (primary) secret. Default: the emulator's home Region. */
  region?: string;
  /**
   * Replicate the secret (Secrets Manager replication) to these Regions: same name, same 6-character
   * suffix, same versions; later versions of the secret are replicated too.
   */
  replicaRegions?: string[];
}

interface Version {
  versionId: string;
  stages: string[];
  secretString?: string;
  secretBinary?: Buffer;
  createdDate: number;
}

interface Secret {
  name: string;
  arn: string;
  versions: Version[];
}

export class Secrets {
  private readonly secrets = new Map<string, Secret>();

  constructor(private readonly now: () => number, private readonly region: string, private readonly accountId: string) {}

  /** Create the secret (with `suffix`, for a replica) or add a version to it. Returns the secret's full ARN. */
  public put(seed: SeedSecret, suffix?: string): string {
    if ((seed.secretString === undefined) === (seed.secretBinary === undefined)) {
      throw new Error('putSecret needs exactly one of secretString or secretBinary');
    }
    let secret = this.secrets.get(seed.name);
    if (!secret) {
      const arnSuffix = suffix ?? crypto.randomBytes(6).toString('base64').replace(/[^a-zA-Z0-9]/g, 'x').slice(0, 6);
      secret = { name: seed.name, arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${seed.name}-${arnSuffix}`, versions: [] };
      this.secrets.set(seed.name, secret);
    }
    const stages = seed.versionStages ?? ['AWSCURRENT'];
    // A staging label lives on one version at a time; moving AWSCURRENT leaves AWSPREVIOUS behind.
    const previousCurrent = stages.includes('AWSCURRENT') ? secret.versions.find((v) => v.stages.includes('AWSCURRENT')) : undefined;
    const moved = previousCurrent ? [...stages, 'AWSPREVIOUS'] : stages;
    for (const v of secret.versions) v.stages = v.stages.filter((s) => !moved.includes(s));
    if (previousCurrent) previousCurrent.stages.push('AWSPREVIOUS');
    secret.versions.push({
      versionId: seed.versionId ?? crypto.randomUUID(),
      stages: [...stages],
      secretString: seed.secretString,
      secretBinary: seed.secretBinary ? Buffer.from(seed.secretBinary) : undefined,
      createdDate: this.now(),
    });
    return secret.arn;
  }

  public delete(nameOrArn: string): void {
    const secret = this.find(nameOrArn);
    if (secret) this.secrets.delete(secret.name);
  }

  private find(secretId: string): Secret | undefined {
    for (const s of this.secrets.values()) {
      // Full ARN, partial ARN (without the 6-character suffix) or name.
      if (secretId === s.name || secretId === s.arn || secretId === s.arn.slice(0, -7)) return s;
    }
    return undefined;
  }

  public getSecretValue(input: Input): Output {
    const secretId = reqString(input, 'SecretId');
    const versionId = optString(input, 'VersionId');
    const versionStage = optString(input, 'VersionStage');
    const secret = this.find(secretId);
    if (!secret) throw err('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    let version: Version | undefined;
    if (versionId !== undefined) {
      version = secret.versions.find((v) => v.versionId === versionId);
      if (version && versionStage !== undefined && !version.stages.includes(versionStage)) {
        throw err('InvalidRequestException', `Version ${versionId} does not have the staging label ${versionStage}`);
      }
    } else {
      const stage = versionStage ?? 'AWSCURRENT';
      version = secret.versions.find((v) => v.stages.includes(stage));
    }
    if (!version) {
      throw err('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label or version.");
    }
    return compact({
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      SecretString: version.secretString,
      SecretBinary: version.secretBinary ? b64(version.secretBinary) : undefined,
      VersionStages: version.stages,
      CreatedDate: ts(version.createdDate),
    });
  }

  public dump(): unknown[] {
    return [...this.secrets.values()].map((s) => ({
      name: s.name,
      arn: s.arn,
      versions: s.versions.map((v) => JSON.parse(JSON.stringify({
        versionId: v.versionId,
        stages: v.stages,
        secretString: v.secretString,
        secretBinary: v.secretBinary ? b64(v.secretBinary) : undefined,
      }))),
    }));
  }
}
