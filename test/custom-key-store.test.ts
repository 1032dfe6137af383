import { App, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AdoptedCustomKeyStore, CustomKeyStore, ExternalKey, KeysRemainingBehaviour, KeyStoreBackend, XksProxyConnectivity,
} from '../lib';
import { destroyOrderViolations } from './util/destroy-order';
import { Template as Tpl } from './util/template';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const STORE_ID = 'cks-1234567890abcdef0';

function makeStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
}

function xks(stack: Stack, overrides: Partial<Parameters<typeof KeyStoreBackend.externalKeyStore>[0]> = {}): KeyStoreBackend {
  return KeyStoreBackend.externalKeyStore({
    proxyUriEndpoint: 'https://xks.example.com',
    proxyUriPath: '/kms/xks/v1',
    proxyAuthenticationCredential: new secretsmanager.Secret(stack, `Credential${stack.node.children.length}`),
    ...overrides,
  });
}

function cloudHsm(stack: Stack, password?: string): KeyStoreBackend {
  return KeyStoreBackend.cloudHsm({
    clusterId: 'cluster-abcdefghijk',
    trustAnchorCertificate: CERT,
    kmsUserPassword: new secretsmanager.Secret(stack, `Password${stack.node.children.length}`, password === undefined ? {} : { secretStringValue: SecretValue.unsafePlainText(password) }),
  });
}

function storeRoleStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('CustomKeyStoreProviderHandlerRole') }] } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('CustomKeyStore', () => {
  test('creates an external key store resource with connect on, RETAIN and FAIL by default', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) });

    const template = Template.fromStack(stack);
    template.hasResource('Custom::KmsCustomKeyStore', {
      Properties: {
        ServiceToken: Match.anyValue(),
        Adopt: 'false',
        CustomKeyStoreName: 'xks',
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        XksProxyUriEndpoint: 'https://xks.example.com',
        XksProxyUriPath: '/kms/xks/v1',
        XksProxyConnectivity: 'PUBLIC_ENDPOINT',
        XksProxyAuthenticationCredential: { SecretArn: { Ref: Match.stringLikeRegexp('^Credential') } },
        Connect: 'true',
        KeysRemaining: 'FAIL',
        ServiceTimeout: '3600',
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('VPC endpoint service connectivity passes the service name and owner', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', {
      customKeyStoreName: 'xks',
      backend: xks(stack, { connectivity: XksProxyConnectivity.VPC_ENDPOINT_SERVICE, vpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123', vpcEndpointServiceOwner: '222222222222' }),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::KmsCustomKeyStore', {
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123',
      XksProxyVpcEndpointServiceOwner: '222222222222',
    });
  });

  test('creates a CloudHSM key store resource, and only then grants cloudhsm:DescribeClusters and the service-linked role', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'hsm', backend: cloudHsm(stack), connect: false, removalPolicy: RemovalPolicy.DESTROY, keysRemaining: KeysRemainingBehaviour.DISCONNECT_AND_RETAIN });

    const template = Template.fromStack(stack);
    template.hasResource('Custom::KmsCustomKeyStore', {
      Properties: {
        CustomKeyStoreType: 'AWS_CLOUDHSM', CloudHsmClusterId: 'cluster-abcdefghijk', TrustAnchorCertificate: CERT,
        KeyStorePassword: { SecretArn: { Ref: Match.stringLikeRegexp('^Password') } }, Connect: 'false', KeysRemaining: 'DISCONNECT_AND_RETAIN',
      },
      DeletionPolicy: 'Delete',
    });
    expect(storeRoleStatements(template)).toEqual(expect.arrayContaining([
      { Action: 'cloudhsm:DescribeClusters', Effect: 'Allow', Resource: '*' },
      {
        Action: 'iam:CreateServiceLinkedRole', Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:role/aws-service-role/cks.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceCustomKeyStores']] },
        Condition: { StringEquals: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } },
      },
    ]));
  });

  test('an XKS-only stack gets no CloudHSM permissions', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) });
    const policy = JSON.stringify(storeRoleStatements(Template.fromStack(stack)));
    expect(policy).not.toContain('cloudhsm:');
    expect(policy).not.toContain('iam:CreateServiceLinkedRole');
  });

  test('the store role gets the store actions on "*" for this account only, and exactly its secrets', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) });
    expect(storeRoleStatements(Template.fromStack(stack))).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/HandlerLogs/), 'Arn'] } },
      {
        Action: ['kms:CreateCustomKeyStore', 'kms:ConnectCustomKeyStore', 'kms:DisconnectCustomKeyStore', 'kms:DescribeCustomKeyStores',
          'kms:UpdateCustomKeyStore', 'kms:DeleteCustomKeyStore', 'kms:DescribeKey'],
        Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': '111111111111' } },
      },
      { Action: 'kms:ListKeys', Effect: 'Allow', Resource: '*' },
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^Credential/) } },
    ]);
  });

  test('the store provider is separate from the key-material provider', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) });
    new ExternalKey(stack, 'Key');
    const template = Template.fromStack(stack);
    const roles = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.includes('HandlerRole'));
    expect(roles).toEqual([expect.stringMatching(/^CdkKmsLifecycleCustomKeyStoreProviderHandlerRole/), expect.stringMatching(/^CdkKmsLifecycleKeyMaterialProviderHandlerRole/)]);
    // The waiter: an isComplete handler polled every 20 s for at most 55 minutes.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('one store provider per stack, whatever the number of stores', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'A', { customKeyStoreName: 'a', backend: xks(stack) });
    new CustomKeyStore(stack, 'B', { customKeyStoreName: 'b', backend: xks(stack) });
    new AdoptedCustomKeyStore(stack, 'C', { customKeyStoreId: STORE_ID });
    Template.fromStack(stack).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('a store is deleted before its role, its policies and its secret', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'hsm', backend: cloudHsm(stack), removalPolicy: RemovalPolicy.DESTROY });
    new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: STORE_ID });
    expect(destroyOrderViolations(Template.fromStack(stack).toJSON() as Tpl)).toEqual([]);
  });

  test('customKeyStoreId is the resource Ref', () => {
    const stack = makeStack();
    const store = new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) });
    expect(stack.resolve(store.customKeyStoreId)).toEqual({ Ref: expect.stringMatching(/^Store/) });
  });
});

describe('AdoptedCustomKeyStore and fromCustomKeyStoreId', () => {
  test('adopts an existing store only to delete it on destroy', () => {
    const stack = makeStack();
    new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: STORE_ID });
    Template.fromStack(stack).hasResource('Custom::KmsCustomKeyStore', {
      Properties: { ServiceToken: Match.anyValue(), Adopt: 'true', CustomKeyStoreId: STORE_ID, Connect: 'false', KeysRemaining: 'FAIL', ServiceTimeout: '3600' },
      DeletionPolicy: 'Delete',
    });
  });

  test('the store role may read this stack\'s status (rollback detection), and only with an adopted store', () => {
    const withoutAdopted = makeStack();
    new CustomKeyStore(withoutAdopted, 'Store', { customKeyStoreName: 'xks', backend: xks(withoutAdopted) });
    expect(JSON.stringify(storeRoleStatements(Template.fromStack(withoutAdopted)))).not.toContain('cloudformation:');
    const stack = makeStack();
    new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: STORE_ID });
    expect(storeRoleStatements(Template.fromStack(stack))).toContainEqual({ Action: 'cloudformation:DescribeStacks', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } });
  });

  test('applyRemovalPolicy works on CustomKeyStore and AdoptedCustomKeyStore: it sets the store resource\'s DeletionPolicy', () => {
    const stack = makeStack();
    new CustomKeyStore(stack, 'Store', { customKeyStoreName: 'xks', backend: xks(stack) }).applyRemovalPolicy(RemovalPolicy.DESTROY);
    new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: STORE_ID }).applyRemovalPolicy(RemovalPolicy.RETAIN);
    const template = Template.fromStack(stack);
    template.hasResource('Custom::KmsCustomKeyStore', { Properties: Match.objectLike({ Adopt: 'false' }), DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.hasResource('Custom::KmsCustomKeyStore', { Properties: Match.objectLike({ Adopt: 'true' }), DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('applyRemovalPolicy fails with a clear message on a store referenced with fromCustomKeyStoreId, and on SNAPSHOT', () => {
    const stack = makeStack();
    expect(() => CustomKeyStore.fromCustomKeyStoreId(stack, 'Ref', STORE_ID).applyRemovalPolicy(RemovalPolicy.DESTROY))
      .toThrow('TestStack/Ref: a store referenced with fromCustomKeyStoreId is not managed by this stack, so it has no removal policy');
    expect(() => new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: STORE_ID }).applyRemovalPolicy(RemovalPolicy.SNAPSHOT))
      .toThrow('TestStack/Old: the removal policy of a custom key store must be DESTROY or RETAIN, got snapshot');
  });

  test('fromCustomKeyStoreId creates nothing', () => {
    const stack = makeStack();
    const store = CustomKeyStore.fromCustomKeyStoreId(stack, 'Ref', STORE_ID);
    expect(store.customKeyStoreId).toBe(STORE_ID);
    expect(Object.keys(Template.fromStack(stack).toJSON().Resources ?? {})).toEqual([]);
  });

  test.each([
    ['grantDelete', 'kms:DeleteCustomKeyStore'],
    ['grantConnect', 'kms:ConnectCustomKeyStore'],
    ['grantDisconnect', 'kms:DisconnectCustomKeyStore'],
    ['grantDescribe', 'kms:DescribeCustomKeyStores'],
  ] as const)('%s adds exactly %s to the grantee policy, limited to this account', (grant, action) => {
    const stack = makeStack();
    const role = new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() });
    CustomKeyStore.fromCustomKeyStoreId(stack, 'Ref', STORE_ID)[grant](role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Ops') }],
      PolicyDocument: { Statement: [{ Action: action, Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': '111111111111' } } }] },
    });
  });
});

describe('CustomKeyStore bad input', () => {
  test('fails on a cluster id that is not cluster- + 11 base32 characters', () => {
    const stack = makeStack();
    expect(() => KeyStoreBackend.cloudHsm({ clusterId: 'cluster-1234', trustAnchorCertificate: CERT, kmsUserPassword: new secretsmanager.Secret(stack, 'P') }))
      .toThrow("clusterId must match 'cluster-' followed by 11 base32 characters (a-z, 2-7), got 'cluster-1234'");
    expect(() => KeyStoreBackend.cloudHsm({ clusterId: 'cluster-abcdefghij1', trustAnchorCertificate: CERT, kmsUserPassword: new secretsmanager.Secret(stack, 'P2') }))
      .toThrow(/got 'cluster-abcdefghij1'/);
  });

  test.each([['short', 6], ['long', 33]])('fails on a literal password that is too %s', (_name, length) => {
    const stack = makeStack();
    expect(() => cloudHsm(stack, 'x'.repeat(length))).toThrow(`kmsUserPassword must be 7 to 32 characters long, got ${length}`);
  });

  test('accepts literal passwords of 7 and 32 characters', () => {
    const stack = makeStack();
    expect(() => cloudHsm(stack, 'x'.repeat(7))).not.toThrow();
    expect(() => cloudHsm(stack, 'x'.repeat(32))).not.toThrow();
  });

  test('fails on an XKS path that does not end with /kms/xks/v1', () => {
    const stack = makeStack();
    expect(() => xks(stack, { proxyUriPath: '/kms/xks/v2' })).toThrow("proxyUriPath must start with '/' and end with '/kms/xks/v1', got '/kms/xks/v2'");
  });

  test('fails on an endpoint that is not https', () => {
    const stack = makeStack();
    expect(() => xks(stack, { proxyUriEndpoint: 'http://xks.example.com' }))
      .toThrow("proxyUriEndpoint must be https:// followed by a host name (and optional port), with no path, got 'http://xks.example.com'");
  });

  test('fails on VPC connectivity without a service name', () => {
    const stack = makeStack();
    expect(() => xks(stack, { connectivity: XksProxyConnectivity.VPC_ENDPOINT_SERVICE })).toThrow('connectivity VPC_ENDPOINT_SERVICE needs vpcEndpointServiceName');
  });

  test('fails on PUBLIC_ENDPOINT with a service name', () => {
    const stack = makeStack();
    expect(() => xks(stack, { vpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123' }))
      .toThrow('connectivity PUBLIC_ENDPOINT takes no vpcEndpointServiceName or vpcEndpointServiceOwner; use VPC_ENDPOINT_SERVICE');
  });

  test('fails on a store id that is not cks- + 17 hex digits', () => {
    const stack = makeStack();
    expect(() => CustomKeyStore.fromCustomKeyStoreId(stack, 'Ref', 'cks-123')).toThrow("customKeyStoreId must match 'cks-' followed by 17 hexadecimal digits, got 'cks-123'");
    expect(() => new AdoptedCustomKeyStore(stack, 'Old', { customKeyStoreId: 'foo' })).toThrow("TestStack/Old: customKeyStoreId must match 'cks-' followed by 17 hexadecimal digits, got 'foo'");
  });

  test.each([['empty', ''], ['longer than 256 characters', 'n'.repeat(257)]])('fails on a name that is %s', (_what, name) => {
    const stack = makeStack();
    expect(() => new CustomKeyStore(stack, 'Store', { customKeyStoreName: name, backend: xks(stack) }))
      .toThrow(`TestStack/Store: customKeyStoreName must be 1 to 256 characters long, got ${name.length}`);
  });
});

describe('CustomKeyStore inputs that would only fail at deploy', () => {
  test('fails when two stores of one account and Region get the same name, across stacks', () => {
    const app = new App();
    const env = { account: '111111111111', region: 'us-east-1' };
    const a = new Stack(app, 'A', { env });
    new CustomKeyStore(a, 'Store', { customKeyStoreName: 'shared-name', backend: xks(a) });
    const b = new Stack(app, 'B', { env });
    expect(() => new CustomKeyStore(b, 'Store', { customKeyStoreName: 'shared-name', backend: xks(b) })).toThrow(
      "B/Store: customKeyStoreName 'shared-name' is already used by A/Store in the same account and Region; KMS requires a unique custom key store name per account and Region. Give each store its own name.");
  });

  test('accepts the same name in another Region', () => {
    const app = new App();
    const a = new Stack(app, 'A', { env: { account: '111111111111', region: 'us-east-1' } });
    new CustomKeyStore(a, 'Store', { customKeyStoreName: 'shared-name', backend: xks(a) });
    const b = new Stack(app, 'B', { env: { account: '111111111111', region: 'eu-west-1' } });
    expect(() => new CustomKeyStore(b, 'Store', { customKeyStoreName: 'shared-name', backend: xks(b) })).not.toThrow();
  });

  test.each([
    ['cloudHsm', 'kmsUserPassword', (v: any) => KeyStoreBackend.cloudHsm({ clusterId: 'cluster-abcdefghijk', trustAnchorCertificate: CERT, kmsUserPassword: v })],
    ['externalKeyStore', 'proxyAuthenticationCredential', (v: any) => KeyStoreBackend.externalKeyStore({ proxyUriEndpoint: 'https://xks.example.com', proxyUriPath: '/kms/xks/v1', proxyAuthenticationCredential: v })],
  ])('KeyStoreBackend.%s given a string instead of an ISecret fails with a TypeError naming %s and the value', (factory, option, make) => {
    expect(() => make('kms-lifecycle/secret-name')).toThrow(new TypeError(
      `KeyStoreBackend.${factory}: ${option} must be a secretsmanager.ISecret, got the string 'kms-lifecycle/secret-name'. ` +
      'For a secret made elsewhere, pass secretsmanager.Secret.fromSecretCompleteArn(this, id, arn) (or fromSecretNameV2), not the ARN or name itself.'));
  });

  test('warns when the XKS credential secret is in another account', () => {
    const stack = makeStack();
    const credential = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Credential', 'arn:aws:secretsmanager:us-east-1:222222222222:secret:xks-AbCdEf');
    new CustomKeyStore(stack, 'Store', {
      customKeyStoreName: 'xks',
      backend: KeyStoreBackend.externalKeyStore({ proxyUriEndpoint: 'https://xks.example.com', proxyUriPath: '/kms/xks/v1', proxyAuthenticationCredential: credential }),
    });
    Annotations.fromStack(stack).hasWarning('/TestStack/Store', Match.stringLikeRegexp("^the XKS proxy credential secret .* is in account 222222222222, not in this stack's account 111111111111.*customer-managed KMS key"));
  });
});
