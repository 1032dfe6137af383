/**
 * A local HTTP endpoint that answers AWS JSON-protocol calls from a script, and a fresh copy of a handler module
 * whose module-level SDK clients point at it through the standard environment (AWS_ENDPOINT_URL_KMS, ...): the
 * SDK's real retry strategy and transport run, as in a Lambda container.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export interface ScriptedReply {
  readonly status: number;
  readonly body: object;
}

export interface ScriptedEndpoint {
  readonly url: string;
  /** The X-Amz-Target of each request, service prefix removed (`DeleteImportedKeyMaterial`), in order. */
  readonly targets: string[];
  close(): Promise<void>;
}

/** Answers each target with its next scripted reply (the last one repeats); an unscripted target gets a 500. */
export async function scriptedEndpoint(script: Record<string, ScriptedReply[]>): Promise<ScriptedEndpoint> {
  const targets: string[] = [];
  const server = http.createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '').replace(/^.*\./, '');
    targets.push(target);
    req.resume();
    const replies = script[target];
    const reply = replies && replies.length > 1 ? replies.shift()! : replies?.[0];
    res.writeHead(reply?.status ?? 500, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${targets.length}` });
    res.end(JSON.stringify(reply?.body ?? { __type: 'InternalFailure', message: `unscripted call ${target}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Runs `use` with a fresh copy of `modulePath` (and of the SDK it imports), while the AWS environment points every
 * service at `endpointUrl` (the SDK resolves region and endpoint on the first call); the environment is restored
 * afterwards. The copy's clients are not touched by mockClient.
 */
export async function withModuleAt<T, R>(modulePath: string, endpointUrl: string, region: string, use: (loaded: T) => Promise<R>): Promise<R> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ENDPOINT_URL: endpointUrl,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'not-a-secret',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  try {
    let loaded: T | undefined;
    jest.isolateModules(() => {
      loaded = require(modulePath) as T;
    });
    return await use(loaded!);
  } finally {
    process.env = saved;
  }
}
