// A fault-injecting HTTP proxy in front of moto_server: on a fixed schedule it answers with AWS
// throttling errors (in the request's protocol), 503s, or connection resets, either before the
// request reaches moto or after moto has applied it (the call landed, its answer is lost). It logs
// every request that reached moto, so tests can check what was written and that nothing was deleted,
// and every request that arrived, named by a caller-given function, so tests can count retry rates
// (the reliability storms put it behind Toxiproxy, which works on TCP and forges no HTTP status).

import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'throttle' | 'unavailable' | 'reset-before' | 'reset-after';

export interface ForwardedCall {
  action: string;
  status: number;
}

/** One request as it arrived (before any fault), named by `subjectOf` (e.g. the identity it concerns). */
export interface SeenRequest {
  action: string;
  subject: string | undefined;
  at: number;
}

export interface FaultProxy {
  endpoint: string;
  /** Every request that arrived, faulted or not: what the client sent, for retry-rate counts. */
  requests: SeenRequest[];
  /** Calls that reached moto, with moto's status (also those whose answer was then dropped). */
  forwarded: ForwardedCall[];
  faults: Array<{ action: string; fault: Fault }>;
  /** Which request numbers (1-based) fail and how; `undefined` = pass through. */
  schedule: (n: number) => Fault | undefined;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `secretsmanager.PutSecretValue` (JSON protocol) or `Action=CreateRole` (query protocol). */
function actionOf(req: IncomingMessage, body: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop() ?? target;
  return new URLSearchParams(body.toString()).get('Action') ?? 'unknown';
}

function throttle(req: IncomingMessage): { headers: Record<string, string>; body: string } {
  if (typeof req.headers['x-amz-target'] === 'string') {
    return {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' },
      body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
    };
  }
  return {
    headers: { 'content-type': 'text/xml' },
    body: '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>',
  };
}

function forward(
  target: URL,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

export async function startFaultProxy(
  targetEndpoint: string,
  schedule: FaultProxy['schedule'],
  subjectOf: (path: string, body: string) => string | undefined = () => undefined,
): Promise<FaultProxy> {
  const target = new URL(targetEndpoint);
  let n = 0;
  const proxy: Omit<FaultProxy, 'endpoint' | 'close'> = { requests: [], forwarded: [], faults: [], schedule };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const action = actionOf(req, body);
    proxy.requests.push({ action, subject: subjectOf(req.url ?? '', body.toString()), at: Date.now() });
    const fault = proxy.schedule(++n);
    if (fault) proxy.faults.push({ action, fault });
    if (fault === 'reset-before') return void req.socket.destroy();
    if (fault === 'unavailable') return void res.writeHead(503, { 'content-length': '0' }).end();
    if (fault === 'throttle') {
      const answer = throttle(req);
      return void res.writeHead(400, answer.headers).end(answer.body);
    }
    try {
      const answer = await forward(target, req, body);
      proxy.forwarded.push({ action, status: answer.status });
      if (fault === 'reset-after') return void req.socket.destroy();
      res.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
