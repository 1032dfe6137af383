import { IPropertyInjector, PropertyInjectors } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The property injector registered for `uniqueId` on the nearest scope that has one, as aws-cdk-lib's
 * own `@propertyInjectable` classes find it (that decorator is not public API).
 */
export function findPropertyInjector(scope: IConstruct, uniqueId: string): IPropertyInjector | undefined {
  for (let c: IConstruct | undefined = scope; c; c = c.node.scope) {
    if (PropertyInjectors.hasPropertyInjectors(c)) {
      const injector = PropertyInjectors.of(c).for(uniqueId);
      if (injector) return injector;
    }
  }
  return undefined;
}

/** `props` after the injector registered for `uniqueId` (if any) has changed them. */
export function applyPropertyInjectors<T>(uniqueId: string, props: T, scope: IConstruct, id: string): T {
  const injector = findPropertyInjector(scope, uniqueId);
  return injector ? injector.inject(props, { scope, id }) as T : props;
}
