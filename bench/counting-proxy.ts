// A counting HTTP proxy in front of a real server (the kube-apiserver over TLS, or moto): it passes
// every request through unchanged, streams the answer back (watches stay open), and records one line
// per request: when, the method, the path and what it is (an apiserver resource and verb, or an AWS
// action). The benchmarks read the operator's own traffic from it: the apiserver's /metrics has no
// per-client label. Nothing is answered by the proxy itself.

import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { classifyAws, classifyKube, type RequestKind } from './traffic.ts';

export interface SeenCall extends RequestKind {
  at: number;
  status?: number;
}

export interface CountingProxy {
  url: string;
  calls: SeenCall[];
  /** Calls seen in [from, to). */
  between(from: number, to?: number): SeenCall[];
  close(): Promise<void>;
}

export interface ProxyTarget {
  url: string;
  /** PEM of the CA that signed the target's serving certificate (https targets). */
  ca?: string;
  dialect: 'kube' | 'aws';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startCountingProxy(target: ProxyTarget): Promise<CountingProxy> {
  const upstream = new URL(target.url);
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const calls: SeenCall[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = target.dialect === 'aws' ? await readBody(req) : undefined;
    const path = req.url ?? '/';
    const kind =
      target.dialect === 'aws'
        ? classifyAws(req.headers['x-amz-target'] as string | undefined, body?.toString('utf8') ?? '')
        : classifyKube(req.method ?? 'GET', path);
    const call: SeenCall = { at: Date.now(), ...kind };
    calls.push(call);
    const headers = { ...req.headers, host: upstream.host };
    const out = send(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers,
        ...(target.ca ? { ca: target.ca } : {}),
      },
      (answer) => {
        if (answer.statusCode !== undefined) call.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // A watch answers headers long before its first event: send them now, as the apiserver does.
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    out.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error.message));
    });
    res.on('close', () => out.destroy());
    if (body) out.end(body);
    else req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    between: (from, to = Number.POSITIVE_INFINITY) => calls.filter((c) => c.at >= from && c.at < to),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
