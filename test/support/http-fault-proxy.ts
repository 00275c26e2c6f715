// An HTTP proxy in front of a real server (OpenBao, moto) that passes every request through, records
// what was sent, and answers chosen requests itself with the faults a misbehaving backend produces: an
// error status whose body echoes the request (its body and credentials headers), or a 200 whose body
// is malformed and holds the request too. Toxiproxy cuts connections but cannot forge HTTP answers;
// this does only that. Test-only: everything it does not fault is the real server's answer.

import { createServer, type IncomingMessage, request, type Server } from 'node:http';

export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type FaultKind = 'echo-500' | 'echo-400' | 'echo-403' | 'malformed';

export interface FaultRule {
  /** Which requests this rule answers. */
  when: (request: SeenRequest) => boolean;
  /** The answers to give, one per matching request, in order; then requests pass again. */
  answers: FaultKind[];
  /** `vault` answers `{errors: [...]}`; `aws` answers the JSON protocol's `{__type, message}`. */
  dialect: 'vault' | 'aws';
}

/** A real server's answer passed through: its status and headers (request IDs), never its body. */
export interface PassedAnswer {
  request: SeenRequest;
  status: number;
  headers: Record<string, string>;
}

export interface HttpFaultProxy {
  url: string;
  seen: SeenRequest[];
  /** The real server's answers to the requests passed through, in order. */
  passed: PassedAnswer[];
  /** Faults answered so far. */
  faulted: Array<{ kind: FaultKind; request: SeenRequest }>;
  addRule(rule: FaultRule): void;
  close(): Promise<void>;
}

function echo(seen: SeenRequest): string {
  const credentials = ['x-vault-token', 'authorization', 'x-amz-security-token']
    .map((h) => (seen.headers[h] ? `${h}=${seen.headers[h]}` : ''))
    .filter(Boolean)
    .join(' ');
  return `${seen.method} ${seen.path} rejected: ${seen.body} ${credentials}`;
}

function faultAnswer(kind: FaultKind, dialect: 'vault' | 'aws', seen: SeenRequest) {
  if (kind === 'malformed') {
    // Truncated JSON that starts with what was sent: a parser's error message quotes its input.
    return { status: 200, body: `${seen.body.slice(0, 200)}{"data":{"value":"${echo(seen)}` };
  }
  const status = { 'echo-500': 500, 'echo-400': 400, 'echo-403': 403 }[kind];
  if (dialect === 'vault') return { status, body: JSON.stringify({ errors: [echo(seen)] }) };
  const type = { 500: 'InternalServiceError', 400: 'InvalidRequestException', 403: 'AccessDeniedException' }[
    status
  ];
  return { status, body: JSON.stringify({ __type: type, message: echo(seen), Message: echo(seen) }) };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startHttpFaultProxy(target: string): Promise<HttpFaultProxy> {
  const upstream = new URL(target);
  const rules: FaultRule[] = [];
  const seenRequests: SeenRequest[] = [];
  const faulted: HttpFaultProxy['faulted'] = [];
  const passed: PassedAnswer[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const seen: SeenRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers,
        body: body.toString('utf8'),
      };
      seenRequests.push(seen);
      const rule = rules.find((r) => r.answers.length > 0 && r.when(seen));
      const kind = rule?.answers.shift();
      if (rule && kind) {
        faulted.push({ kind, request: seen });
        const answer = faultAnswer(kind, rule.dialect, seen);
        res.writeHead(answer.status, {
          'content-type': rule.dialect === 'aws' ? 'application/x-amz-json-1.1' : 'application/json',
          ...(rule.dialect === 'aws' && kind !== 'malformed'
            ? { 'x-amzn-errortype': faultAnswer(kind, 'aws', seen).body.match(/"__type":"(\w+)"/)?.[1] ?? '' }
            : {}),
        });
        res.end(answer.body);
        return;
      }
      const forwarded = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(answer.headers)) if (typeof v === 'string') headers[k] = v;
          passed.push({ request: seen, status: answer.statusCode ?? 502, headers });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forwarded.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forwarded.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen: seenRequests,
    passed,
    faulted,
    addRule: (rule) => rules.push(rule),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
