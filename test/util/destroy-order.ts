import { dependencyGraph, referencesIn, Template, transitiveDependencies } from './template';

/**
 * The destroy-order check: for every custom resource, the resources that its handler needs while it
 * is deleted — the handler's role and every policy attached to it, the keys and secrets it uses
 * (a key's policy statements live in the key) — are deleted after it, i.e. the custom resource
 * depends on each of them, directly or transitively.
 *
 * Returns one line per violation; empty when the order is safe.
 */
export function destroyOrderViolations(template: Template): string[] {
  const graph = dependencyGraph(template);
  const violations: string[] = [];
  const resources = template.Resources;
  for (const [id, resource] of Object.entries(resources)) {
    if (!resource.Type.startsWith('Custom::')) continue;
    const closure = transitiveDependencies(template, id, graph);
    const needed = new Map<string, string>();

    // The handler functions behind the service token (framework -> user handlers) and their roles.
    const functions = [...closure].filter((d) => resources[d].Type === 'AWS::Lambda::Function');
    const handlerRoles = new Set<string>();
    for (const fn of functions) for (const r of referencesIn(resources[fn].Properties?.Role ?? {})) handlerRoles.add(r);
    for (const role of handlerRoles) {
      needed.set(role, 'its handler role');
      for (const [pid, p] of Object.entries(resources)) {
        if (p.Type !== 'AWS::IAM::Policy' && p.Type !== 'AWS::IAM::ManagedPolicy') continue;
        if ([...referencesIn(p.Properties?.Roles ?? [])].includes(role)) {
          needed.set(pid, `a policy of handler role ${role}`);
          // Secrets and keys named in those policies are needed too.
          for (const ref of referencesIn(p.Properties?.PolicyDocument ?? {})) {
            const t = resources[ref]?.Type;
            if (t === 'AWS::SecretsManager::Secret' || t === 'AWS::KMS::Key') needed.set(ref, `${t} used by handler role ${role}`);
          }
        }
      }
    }
    // Keys whose key policy names a handler role hold that role's key-policy statements.
    for (const [kid, k] of Object.entries(resources)) {
      if (k.Type !== 'AWS::KMS::Key') continue;
      const principals = referencesIn(k.Properties?.KeyPolicy ?? {});
      const propsRefs = referencesIn(resource.Properties ?? {});
      if ([...handlerRoles].some((r) => principals.has(r)) && propsRefs.has(kid)) needed.set(kid, 'the key whose policy holds its statements');
    }
    for (const ref of referencesIn(resource.Properties ?? {})) {
      const t = resources[ref]?.Type;
      if (t === 'AWS::SecretsManager::Secret') needed.set(ref, 'a secret it reads');
    }
    for (const [need, why] of needed) {
      if (!closure.has(need)) violations.push(`${id} is not deleted before ${need} (${why})`);
    }
  }
  return violations;
}
