/**
 * The app that test/package.test.ts synthesizes in a fresh directory, with the packed tarball
 * installed as `cdk-kms-lifecycle` (so it sees only what the package ships). It uses every public
 * construct; a new construct is one more line in `USES` (the test fails until it is there).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as lib from 'cdk-kms-lifecycle';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const secret = (stack: Stack, name: string) => secretsmanager.Secret.fromSecretNameV2(stack, `Secret-${name}`, `consumer/${name}`);

/** One line per use of the library: what a team would write. */
const USES: Record<string, (stack: Stack, operator: iam.IRole) => void> = {
  externalKeyWithMaterial: (s, op) => new lib.ExternalKey(s, 'KeyWithMaterial', {
    alias: 'alias/consumer', material: lib.KeyMaterial.fromSecret(secret(s, 'material')), expiration: lib.KeyMaterialExpiration.never(),
  }).grantDeleteImportedKeyMaterial(op),
  externalKeyWithoutMaterial: (s, op) => new lib.ExternalKey(s, 'KeyWithoutMaterial', { removalPolicy: RemovalPolicy.DESTROY }).grantImportKeyMaterial(op),
  importedKeyMaterialOnKeyArn: (s, op) => new lib.ImportedKeyMaterial(s, 'ForeignMaterial', {
    key: kms.Key.fromKeyArn(s, 'ForeignKey', KEY_ARN),
  }).grantDeleteImportedKeyMaterial(op),
  cloudHsmStore: (s, op) => new lib.CustomKeyStore(s, 'HsmStore', {
    customKeyStoreName: 'consumer-hsm',
    backend: lib.KeyStoreBackend.cloudHsm({
      clusterId: 'cluster-abcdefghijk', trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', kmsUserPassword: secret(s, 'kmsuser'),
    }),
    keysRemaining: lib.KeysRemainingBehaviour.DISCONNECT_AND_RETAIN,
  }).grantConnect(op),
  externalKeyStore: (s, op) => new lib.CustomKeyStore(s, 'XksStore', {
    customKeyStoreName: 'consumer-xks',
    backend: lib.KeyStoreBackend.externalKeyStore({
      proxyUriEndpoint: 'https://xks.example.com', proxyUriPath: '/consumer/kms/xks/v1',
      connectivity: lib.XksProxyConnectivity.PUBLIC_ENDPOINT, proxyAuthenticationCredential: secret(s, 'xks'),
    }),
    removalPolicy: RemovalPolicy.DESTROY,
  }).grantDisconnect(op),
  adoptedStore: (s, op) => new lib.AdoptedCustomKeyStore(s, 'AdoptedStore', { customKeyStoreId: 'cks-1234567890abcdef0' }).grantDelete(op),
  externalReplicaKey: (s, op) => new lib.ExternalReplicaKey(new Stack(s.node.root, 'ConsumerReplica', { env: { account: '111122223333', region: 'eu-west-1' }, crossRegionReferences: true }), 'Replica', {
    primaryKey: new lib.ExternalKey(s, 'MultiRegionPrimary', { multiRegion: true }),
  }).grantDeleteImportedKeyMaterial(op),
  storeById: (s, op) => lib.CustomKeyStore.fromCustomKeyStoreId(s, 'StoreById', 'cks-0123456789abcdef0').grantDescribe(op),
};

const app = new App({ outdir: process.env.CONSUMER_OUTDIR });
const stack = new Stack(app, 'Consumer', { env: { account: '111122223333', region: 'us-east-1' }, crossRegionReferences: true });
const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
for (const use of Object.values(USES)) use(stack, operator);
Validations.of(operator).acknowledge({
  id: 'AwsSolutions-IAM5[Resource::*]',
  reason: 'KMS accepts only Resource "*" for custom key store actions; the grants limit them to this account with kms:CallerAccount.',
});

// cdk-nag 3 reads the tree from `context.appConstruct`, which aws-cdk-lib 2.257 does not set: hand it the app.
// Its report is also written to nag-report.json, since aws-cdk-lib 2.276 leaves a clean plugin out of its own report.
const nagReports: PolicyValidationPluginReport[] = [];
const nag: IPolicyValidationPlugin = {
  name: 'AwsSolutions',
  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = new AwsSolutionsChecks().validate({ ...context, appConstruct: app } as IPolicyValidationContext);
    nagReports.push(report);
    return report;
  },
};
Validations.of(app).addPlugins(nag);
try {
  app.synth();
} finally {
  if (fs.existsSync(app.outdir)) fs.writeFileSync(path.join(app.outdir, 'nag-report.json'), JSON.stringify(nagReports));
}

// Which of the package's exported classes this app constructed (checked against the assembly by the test).
const exported = new Map(Object.entries(lib).filter(([, v]) => typeof v === 'function').map(([name, v]) => [v, name]));
const used = new Set<string>();
for (const c of app.node.findAll()) {
  for (let proto = Object.getPrototypeOf(c); proto; proto = Object.getPrototypeOf(proto)) {
    const name = exported.get(proto.constructor);
    if (name) used.add(name);
  }
}
fs.writeFileSync(path.join(app.outdir, 'constructs-used.json'), JSON.stringify([...used].sort()));
