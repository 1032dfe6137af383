/**
 * Fixtures for the custom key store handler tests: properties, events, DescribeCustomKeyStores entries,
 * the mocked clients and the list of commands sent.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CustomKeyStoresListEntry, KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { CustomKeyStoreResourceProperties } from '../../lib/private/custom-key-store-contract';
import type { CustomKeyStoreEvent, OnEventData } from '../../lambda/custom-key-store-provider/index';
import { eventBuilders } from '../util/events';

export const REGION = 'eu-west-1';
export const ACCOUNT = '111122223333';
export const STORE_ID = 'cks-1234567890abcdef0';
export const NEW_STORE_ID = 'cks-fedcba09876543210';
export const STORE_NAME = 'ExampleKeyStore';
export const CLUSTER_ID = 'cluster-234abcdefgh';
export const OTHER_CLUSTER_ID = 'cluster-567abcdefgh';
export const TRUST_ANCHOR = '-----BEGIN CERTIFICATE-----\nMIIB-trust-anchor\n-----END CERTIFICATE-----';
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/MyStack/11111111-2222-3333-4444-555555555555`;
export const LOGICAL_ID = 'KeyStoreC0FFEE42';
export const RESPONSE_URL = 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed-response-url?X-Amz-Signature=deadbeef';

export const PASSWORD_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kmsuser-AbCdEf`;
export const NEW_PASSWORD_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kmsuser-v2-GhIjKl`;
export const CREDENTIAL_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:xks-credential-MnOpQr`;
export const NEW_CREDENTIAL_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:xks-credential-v2-StUvWx`;

/** Secret values: none of them may ever appear in a log line, a returned Data or an error message. */
export const PASSWORD = 'kmsPswd-Sup3rS3cret';
export const NEW_PASSWORD = 'kmsPswd-N3wS3cret!';
export const ACCESS_KEY_ID = 'ABCDEFGHIJKLMNOPQRST';
export const SECRET_ACCESS_KEY = 'K3yS3cretValue/abcdefghijklmnopqrstuvwxyz+012=';
export const NEW_ACCESS_KEY_ID = 'ZYXWVUTSRQPONMLKJIHGF';
export const NEW_SECRET_ACCESS_KEY = 'N3wS3cretValue/abcdefghijklmnopqrstuvwxyz+345=';
export const SECRET_VALUES = [PASSWORD, NEW_PASSWORD, SECRET_ACCESS_KEY, NEW_SECRET_ACCESS_KEY];

export const XKS_ENDPOINT = 'https://xks.example.com';
export const XKS_PATH = '/example/kms/xks/v1';
export const VPC_SERVICE = 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0';

export function cloudHsmProps(overrides: Partial<CustomKeyStoreResourceProperties> = {}): CustomKeyStoreResourceProperties {
  return {
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:provider-framework-onEvent`,
    Adopt: 'false',
    CustomKeyStoreName: STORE_NAME,
    CustomKeyStoreType: 'AWS_CLOUDHSM',
    CloudHsmClusterId: CLUSTER_ID,
    TrustAnchorCertificate: TRUST_ANCHOR,
    KeyStorePassword: { SecretArn: PASSWORD_SECRET_ARN },
    Connect: 'true',
    KeysRemaining: 'FAIL',
    ...overrides,
  };
}

export function xksProps(overrides: Partial<CustomKeyStoreResourceProperties> = {}): CustomKeyStoreResourceProperties {
  return {
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:provider-framework-onEvent`,
    Adopt: 'false',
    CustomKeyStoreName: STORE_NAME,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    XksProxyUriEndpoint: XKS_ENDPOINT,
    XksProxyUriPath: XKS_PATH,
    XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    XksProxyAuthenticationCredential: { SecretArn: CREDENTIAL_SECRET_ARN },
    Connect: 'true',
    KeysRemaining: 'FAIL',
    ...overrides,
  };
}

export function adoptProps(overrides: Partial<CustomKeyStoreResourceProperties> = {}): CustomKeyStoreResourceProperties {
  return { Adopt: 'true', CustomKeyStoreId: STORE_ID, Connect: 'true', KeysRemaining: 'FAIL', ...overrides };
}

/** Create, Update and Delete events for this handler. */
export const { createEvent, updateEvent, deleteEvent } = eventBuilders<CustomKeyStoreResourceProperties>({
  resourceType: 'Custom::KmsCustomKeyStore', logicalResourceId: LOGICAL_ID, stackId: STACK_ID, responseUrl: RESPONSE_URL, physicalResourceId: STORE_ID,
});

/** The event isComplete receives: the request plus onEvent's PhysicalResourceId and Data. */
export function afterOnEvent(event: CustomKeyStoreEvent, result: { PhysicalResourceId: string; Data?: OnEventData | Partial<OnEventData> }): CustomKeyStoreEvent {
  return { ...event, PhysicalResourceId: result.PhysicalResourceId, Data: result.Data };
}

export type State = 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED';
export const ALL_STATES: State[] = ['CONNECTED', 'CONNECTING', 'DISCONNECTED', 'DISCONNECTING', 'FAILED'];

export function cloudHsmStore(state: State, overrides: Partial<CustomKeyStoresListEntry> = {}): CustomKeyStoresListEntry {
  return {
    CustomKeyStoreId: STORE_ID,
    CustomKeyStoreName: STORE_NAME,
    CustomKeyStoreType: 'AWS_CLOUDHSM',
    CloudHsmClusterId: CLUSTER_ID,
    TrustAnchorCertificate: TRUST_ANCHOR,
    ConnectionState: state,
    CreationDate: new Date('2026-11-01T00:00:00Z'),
    ...overrides,
  };
}

export function xksStore(state: State, overrides: Partial<CustomKeyStoresListEntry> = {}): CustomKeyStoresListEntry {
  return {
    CustomKeyStoreId: STORE_ID,
    CustomKeyStoreName: STORE_NAME,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    ConnectionState: state,
    CreationDate: new Date('2026-11-01T00:00:00Z'),
    XksProxyConfiguration: { Connectivity: 'PUBLIC_ENDPOINT', AccessKeyId: ACCESS_KEY_ID, UriEndpoint: XKS_ENDPOINT, UriPath: XKS_PATH },
    ...overrides,
  };
}

export interface Mocks {
  readonly kms: AwsClientStub<KMSClient>;
  readonly secrets: AwsClientStub<SecretsManagerClient>;
  /** CloudFormation: DescribeStacks answers DELETE_IN_PROGRESS unless a test says otherwise (stackIs). */
  readonly cfn: AwsClientStub<CloudFormationClient>;
}

/** Makes DescribeStacks answer this stack status. */
export function stackIs(m: Mocks, status: string): void {
  m.cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'MyStack', StackId: STACK_ID, StackStatus: status as never, CreationTime: new Date() }] });
}

/** Fresh mocks of the handler's module-level clients (on their prototypes); the secrets hold the fixture values. */
export function mocks(): Mocks {
  const kms = mockClient(KMSClient);
  const secrets = mockClient(SecretsManagerClient);
  secrets.on(GetSecretValueCommand, { SecretId: PASSWORD_SECRET_ARN }).resolves({ SecretString: PASSWORD });
  secrets.on(GetSecretValueCommand, { SecretId: NEW_PASSWORD_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ password: NEW_PASSWORD }) });
  secrets.on(GetSecretValueCommand, { SecretId: CREDENTIAL_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }) });
  secrets.on(GetSecretValueCommand, { SecretId: NEW_CREDENTIAL_SECRET_ARN })
    .resolves({ SecretString: JSON.stringify({ xks: { AccessKeyId: NEW_ACCESS_KEY_ID, RawSecretAccessKey: NEW_SECRET_ACCESS_KEY } }) });
  const result = { kms, secrets, cfn: mockClient(CloudFormationClient) };
  stackIs(result, 'DELETE_IN_PROGRESS');
  return result;
}

/** The commands a mocked client received, in order: [name, input]. */
export function sent(stub: AwsClientStub<KMSClient> | AwsClientStub<SecretsManagerClient>): [string, unknown][] {
  return stub.calls().map((c) => {
    const command = c.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name.replace(/Command$/, ''), command.input];
  });
}

/** Only the command names, in order. */
export function sentNames(stub: AwsClientStub<KMSClient> | AwsClientStub<SecretsManagerClient>): string[] {
  return sent(stub).map(([name]) => name);
}

/** An SDK-like service error. */
export function awsError(name: string, message = `${name} message`): Error {
  const err = new Error(message) as Error & { $fault: string; $metadata: object };
  err.name = name;
  err.$fault = 'client';
  err.$metadata = { httpStatusCode: 400 };
  return err;
}
