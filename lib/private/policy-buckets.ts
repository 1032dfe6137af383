import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/**
 * IAM limits on a role's permissions policies (characters without whitespace): every inline policy of a role
 * together, one managed policy, and the managed policies attached to one role (the default quota).
 */
export const IAM_INLINE_POLICY_CHARS_PER_ROLE = 10_240;
export const IAM_MANAGED_POLICY_CHARS = 6_144;
export const IAM_MANAGED_POLICIES_PER_ROLE = 10;

/**
 * The most characters one statement of a bucket takes: small enough that CDK can move whole statements into
 * managed policies of at most 6,144 characters when the role's inline policy overflows (CDK never splits a
 * statement, so a statement over 6,144 characters is a policy IAM refuses at deploy time).
 */
const MAX_STATEMENT_CHARS = 4_000;

/** What a statement costs without its resources (actions, effect, conditions, punctuation), estimated. */
const STATEMENT_OVERHEAD_CHARS = 300;

/** The length an unresolved ARN (a token) is assumed to have once deployed. */
const TOKEN_ARN_CHARS = 120;

const buckets = new WeakMap<iam.IPrincipal, PolicyBuckets>();

/**
 * Statements of one role that grant the same actions (and conditions) on many resources: one statement per
 * bucket of resources, each at most `MAX_STATEMENT_CHARS`, instead of one statement per grant (which repeats the
 * actions for every resource) or one statement for every resource (which outgrows any policy). The role's
 * permissions, statement by statement, are exactly the resources granted.
 */
export class PolicyBuckets {
  /** The buckets of `role`, registered with `PolicyBuckets.register`; undefined for other principals. */
  public static of(principal: iam.IPrincipal): PolicyBuckets | undefined {
    return buckets.get(principal);
  }

  /** Makes `role`'s grants through `PolicyBuckets.of` go to buckets, and checks the role's size at synth. */
  public static register(scope: IConstruct, role: iam.Role, what: string): PolicyBuckets {
    const b = new PolicyBuckets(role);
    buckets.set(role, b);
    scope.node.addValidation({ validate: () => b.validate(what) });
    return b;
  }

  private readonly open = new Map<string, { statement: iam.PolicyStatement; chars: number }>();
  private totalChars = 0;

  private constructor(private readonly role: iam.Role) {}

  /** Grants `actions` (with `conditions`) on `resourceArn`. */
  public grant(actions: string[], resourceArn: string, conditions?: Record<string, Record<string, unknown>>): void {
    const signature = JSON.stringify([actions, conditions ?? {}]);
    const chars = (Token.isUnresolved(resourceArn) ? TOKEN_ARN_CHARS : resourceArn.length) + 3;
    let bucket = this.open.get(signature);
    if (!bucket || bucket.chars + chars > MAX_STATEMENT_CHARS) {
      bucket = { statement: new iam.PolicyStatement({ actions, conditions }), chars: STATEMENT_OVERHEAD_CHARS };
      this.open.set(signature, bucket);
      this.role.addToPrincipalPolicy(bucket.statement);
      this.totalChars += STATEMENT_OVERHEAD_CHARS;
    }
    bucket.statement.addResources(resourceArn);
    bucket.chars += chars;
    this.totalChars += chars;
  }

  /** Fails synthesis when the buckets alone would need more managed policies than IAM attaches to a role. */
  private validate(what: string): string[] {
    const capacity = IAM_INLINE_POLICY_CHARS_PER_ROLE + IAM_MANAGED_POLICIES_PER_ROLE * (IAM_MANAGED_POLICY_CHARS - MAX_STATEMENT_CHARS / 2);
    if (this.totalChars <= capacity) return [];
    return [`${what}: its role would need about ${Math.ceil(this.totalChars / 1000)},000 characters of IAM policy for the secrets and ` +
      `keys it is granted one by one, more than IAM allows one role (${IAM_INLINE_POLICY_CHARS_PER_ROLE.toLocaleString('en-US')} characters of ` +
      `inline policy and ${IAM_MANAGED_POLICIES_PER_ROLE} managed policies of ${IAM_MANAGED_POLICY_CHARS.toLocaleString('en-US')} characters each). ` +
      'Split the keys over several stacks (each stack has its own provider and role), or keep the material of several keys in one secret ' +
      '(KeyMaterial.fromSecret with jsonField) so that one grant covers them.'];
  }
}
