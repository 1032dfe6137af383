/**
 * Helpers over synthesized CloudFormation templates: token resolution to concrete values
 * (for iam-simulate) and the dependency graph (for the destroy-order check).
 */

export type Template = { Resources: Record<string, CfnResource> };
export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DependsOn?: string | string[];
}

export interface Env {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
  /**
   * Physical ids of resources that exist somewhere concrete (e.g. the KMS emulator), by logical id:
   * they win over the derived ones for `Ref`, `Fn::GetAtt <Id>.Arn` and other attributes.
   * @default - every id is derived from the logical id
   */
  readonly physicalIds?: Readonly<Record<string, PhysicalIds>>;
  /** The stack id (`AWS::StackId`). @default - derived from the stack name */
  readonly stackId?: string;
}

/** What `Ref` and `Fn::GetAtt` give for one resource. */
export interface PhysicalIds {
  /** What `Ref` returns (key id, secret ARN, custom resource physical id, ...). */
  readonly ref: string;
  /** What `Fn::GetAtt <Id>.Arn` returns. @default - derived from the logical id */
  readonly arn?: string;
  /** Other attributes (`Fn::GetAtt <Id>.<Attr>`), e.g. a custom resource's Data. */
  readonly attributes?: Readonly<Record<string, string>>;
}

export const TEST_ENV: Env = { account: '111111111111', region: 'us-east-1', stackName: 'TestStack' };

/** The concrete physical id/ARN a resource would get, for `Ref` and `Fn::GetAtt <Id>.Arn`. */
export function physicalArn(template: Template, logicalId: string, env: Env = TEST_ENV): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId}`);
  const known = env.physicalIds?.[logicalId]?.arn;
  if (known !== undefined) return known;
  const { account, region } = env;
  switch (resource.Type) {
    case 'AWS::IAM::Role': return `arn:aws:iam::${account}:role/${logicalId}`;
    case 'AWS::KMS::Key': return `arn:aws:kms:${region}:${account}:key/${keyIdOf(logicalId)}`;
    case 'AWS::SecretsManager::Secret': return `arn:aws:secretsmanager:${region}:${account}:secret:${logicalId}-AbCdEf`;
    case 'AWS::Lambda::Function': return `arn:aws:lambda:${region}:${account}:function:${logicalId}`;
    case 'AWS::Logs::LogGroup': return `arn:aws:logs:${region}:${account}:log-group:${logicalId}:*`;
    default: return `arn:aws:${resource.Type.split('::')[1].toLowerCase()}:${region}:${account}:${logicalId}`;
  }
}

/** A stable UUID-shaped key id derived from the logical id. */
export function keyIdOf(logicalId: string): string {
  const hex = Buffer.from(logicalId).toString('hex').padEnd(32, '0').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and pseudo parameters. */
export function resolve(template: Template, value: any, env: Env = TEST_ENV): any {
  const r = (v: any): any => resolve(template, v, env);
  if (Array.isArray(value)) return value.map(r);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [fn] = keys;
    const arg = value[fn];
    switch (fn) {
      case 'Ref': return ref(template, arg, env);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        const known = env.physicalIds?.[id]?.attributes?.[attr];
        if (known !== undefined) return known;
        const arn = physicalArn(template, id, env);
        if (attr === 'Arn') return arn;
        if (attr === 'KeyId') return arn.split('/').pop();
        return `${arn}/${attr}`;
      }
      case 'Fn::Join': return (r(arg[1]) as any[]).map(String).join(arg[0]);
      case 'Fn::Select': return r(arg[1])[Number(r(arg[0]))];
      case 'Fn::Split': return String(r(arg[1])).split(arg[0]);
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        return String(text).replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
          if (vars[name] !== undefined) return String(r(vars[name]));
          return name.includes('.') ? r({ 'Fn::GetAtt': name.split('.') }) : ref(template, name, env);
        });
      }
    }
  }
  return Object.fromEntries(keys.map((k) => [k, r(value[k])]));
}

function ref(template: Template, name: string, env: Env): string {
  switch (name) {
    case 'AWS::Partition': return 'aws';
    case 'AWS::Region': return env.region;
    case 'AWS::AccountId': return env.account;
    case 'AWS::URLSuffix': return 'amazonaws.com';
    case 'AWS::StackName': return env.stackName;
    case 'AWS::StackId': return env.stackId ?? `arn:aws:cloudformation:${env.region}:${env.account}:stack/${env.stackName}/0b8b5a30-0000-0000-0000-000000000000`;
  }
  const resource = template.Resources[name];
  if (!resource) return name; // a parameter
  const known = env.physicalIds?.[name]?.ref;
  if (known !== undefined) return known;
  if (resource.Type === 'AWS::KMS::Key') return keyIdOf(name);
  if (resource.Type === 'AWS::IAM::Role') return name;
  return physicalArn(template, name, env);
}

/** Logical ids that `value` references (Ref, Fn::GetAtt, Fn::Sub). */
export function referencesIn(value: any, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((v) => referencesIn(v, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) out.add(v);
      else if (k === 'Fn::GetAtt') out.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]);
      else if (k === 'Fn::Sub') {
        const text = Array.isArray(v) ? v[0] : v;
        for (const m of String(text).matchAll(/\$\{([^}.!]+)(\.[^}]+)?\}/g)) if (!m[1].startsWith('AWS::')) out.add(m[1]);
        if (Array.isArray(v)) referencesIn(v[1], out);
      } else referencesIn(v, out);
    }
  }
  return out;
}

/** Direct dependencies of every resource: Ref, GetAtt, Sub and DependsOn. */
export function dependencyGraph(template: Template): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const deps = referencesIn(resource.Properties ?? {});
    for (const d of [resource.DependsOn ?? []].flat()) deps.add(d);
    graph.set(id, new Set([...deps].filter((d) => d in template.Resources)));
  }
  return graph;
}

/** Every resource `id` depends on, directly or transitively. */
export function transitiveDependencies(template: Template, id: string, graph = dependencyGraph(template)): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph.get(id) ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(graph.get(next) ?? []));
  }
  return seen;
}

/**
 * CloudFormation deletes a resource only after every resource that depends on it. Returns the
 * order in which a stack delete removes the resources (one valid topological order).
 */
export function deletionOrder(template: Template): string[] {
  const graph = dependencyGraph(template);
  const dependents = new Map<string, number>();
  for (const id of graph.keys()) dependents.set(id, 0);
  for (const deps of graph.values()) for (const d of deps) dependents.set(d, (dependents.get(d) ?? 0) + 1);
  const ready = [...graph.keys()].filter((id) => dependents.get(id) === 0).sort();
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const d of graph.get(id) ?? []) {
      dependents.set(d, dependents.get(d)! - 1);
      if (dependents.get(d) === 0) ready.push(d);
    }
  }
  if (order.length !== graph.size) throw new Error('dependency cycle in template');
  return order;
}
