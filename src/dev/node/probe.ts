// The probe workload of the dev node (image localhost/nhi/probe:1, docs/node.md): a pod that uses
// the credentials it was given, driven over HTTP by the e2e tests from the host (which reaches pods
// on the node's bridge). Runs on the image's Node.js with type stripping: node: imports only.
//   GET /healthz
//   GET /whoami                          SelfSubjectReview with the pod's ServiceAccount token
//   GET /can-i?verb=&resource=&group=&namespace=&name=&subresource=   SelfSubjectAccessReview
//   GET /get?path=/api/v1/...            a GET to the apiserver with the token: {status}
//   GET /token?file=                     the token in a mounted file, and its claims
//   GET /vault/login?addr=&mount=&role=&file=   kubernetes-auth login with a (projected) token file
//   GET /vault/read?addr=&path=          a read with the token of the last login: {status, sha256}
//   GET /env?name=                       an environment variable: {set, sha256}
//   GET /watch/start?file=&pattern=      read the file every few ms; /watch/report: every read that
//                                        failed or did not match, and each change with its time
// Secret values never leave the pod: reads answer with a SHA-256 of the value.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request } from 'node:https';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function apiserver(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '10.0.0.1';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const token = readFileSync(`${SA_DIR}/token`, 'utf8').trim();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method,
        ca: readFileSync(`${SA_DIR}/ca.crt`),
        servername: 'kubernetes.default.svc',
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': 'application/json' }),
        },
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function vault(addr: string, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: { ...(token && { 'x-vault-token': token }), 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: status only
  }
  return { status: response.status, json };
}

function claims(token: string): unknown {
  const payload = token.split('.')[1] ?? '';
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

interface Watch {
  file: string;
  pattern: RegExp;
  reads: number;
  failures: { at: number; error: string }[];
  changes: { at: number; sha256: string }[];
  last: string;
  timer: NodeJS.Timeout;
}
let watch: Watch | undefined;

function startWatch(file: string, pattern: RegExp): void {
  if (watch) clearInterval(watch.timer);
  const w: Watch = {
    file,
    pattern,
    reads: 0,
    failures: [],
    changes: [],
    last: '',
    timer: setInterval(() => {}, 1e9),
  };
  clearInterval(w.timer);
  w.timer = setInterval(() => {
    w.reads += 1;
    let value: string;
    try {
      value = readFileSync(file, 'utf8');
    } catch (error) {
      w.failures.push({ at: Date.now(), error: (error as NodeJS.ErrnoException).code ?? 'read error' });
      return;
    }
    if (!pattern.test(value)) {
      w.failures.push({ at: Date.now(), error: value === '' ? 'empty' : 'does not match the pattern' });
      return;
    }
    const digest = sha256(value);
    if (digest !== w.last) {
      w.last = digest;
      w.changes.push({ at: Date.now(), sha256: digest });
    }
  }, 5);
  watch = w;
}

const vaultTokens = new Map<string, string>();

async function handle(url: URL): Promise<unknown> {
  const q = (name: string) => url.searchParams.get(name) ?? '';
  switch (url.pathname) {
    case '/healthz':
      return { ok: true };
    case '/whoami': {
      const answer = await apiserver('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
      });
      const status = (answer.json as { status?: { userInfo?: unknown } } | undefined)?.status;
      return { status: answer.status, userInfo: status?.userInfo };
    }
    case '/can-i': {
      const attributes = Object.fromEntries(
        ['verb', 'resource', 'group', 'namespace', 'name', 'subresource']
          .map((key) => [key, q(key)])
          .filter(([, value]) => value !== ''),
      );
      const answer = await apiserver('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: attributes },
      });
      const status = (answer.json as { status?: { allowed?: boolean } } | undefined)?.status;
      return { status: answer.status, allowed: status?.allowed === true };
    }
    case '/get':
      return { status: (await apiserver('GET', q('path'))).status };
    case '/token': {
      const token = readFileSync(q('file'), 'utf8').trim();
      return { token, claims: claims(token) };
    }
    case '/vault/login': {
      const jwt = readFileSync(q('file'), 'utf8').trim();
      const answer = await vault(q('addr'), 'POST', `auth/${q('mount') || 'kubernetes'}/login`, '', {
        role: q('role'),
        jwt,
      });
      const auth = answer.json.auth as { client_token?: string; policies?: string[] } | undefined;
      if (auth?.client_token) vaultTokens.set(q('addr'), auth.client_token);
      return { status: answer.status, policies: auth?.policies ?? [] };
    }
    case '/vault/read': {
      const answer = await vault(q('addr'), 'GET', q('path'), vaultTokens.get(q('addr')) ?? '');
      const data = (answer.json.data as { data?: unknown } | undefined)?.data;
      return { status: answer.status, ...(data !== undefined && { sha256: sha256(JSON.stringify(data)) }) };
    }
    case '/env': {
      // An environment variable's SHA-256, never its value (a Secret through secretKeyRef, say).
      const value = process.env[q('name')];
      return value === undefined ? { set: false } : { set: true, sha256: sha256(value) };
    }
    case '/watch/start':
      startWatch(q('file'), new RegExp(q('pattern') || '.'));
      return { started: true };
    case '/watch/report':
      return watch
        ? { reads: watch.reads, failures: watch.failures, changes: watch.changes }
        : { reads: 0, failures: [], changes: [] };
    default:
      throw Object.assign(new Error(`no such endpoint ${url.pathname}`), { statusCode: 404 });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  handle(new URL(req.url ?? '/', 'http://probe'))
    .then((body) => reply(res, 200, body))
    .catch((error: Error & { statusCode?: number }) =>
      reply(res, error.statusCode ?? 500, { error: error.message }),
    );
});
server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0', () => console.log('probe listening'));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    console.log(`probe got ${signal}, exiting`);
    process.exit(0);
  });
}
