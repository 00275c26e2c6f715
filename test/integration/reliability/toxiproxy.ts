// The real Toxiproxy server (built from github.com/Shopify/toxiproxy/v2 by scripts/build-components.sh,
// pinned in scripts/components.env), driven through its HTTP API: one TCP proxy per upstream, toxics
// added and removed while the operator runs. Toxiproxy works on TCP: it delays, throttles, stalls,
// cuts and resets connections, but never forges an HTTP status (see storm.test.ts for how 5xx and
// throttling answers are produced).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { cacheRoot, readVersions } from '../../../src/dev/components.ts';
import { eventually } from '../../support/wait.ts';

export type ToxicType =
  | 'latency'
  | 'bandwidth'
  | 'timeout'
  | 'reset_peer'
  | 'limit_data'
  | 'slicer'
  | 'slow_close';

export interface Toxic {
  name: string;
  type: ToxicType;
  stream: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

/**
 * `call` again when the connection failed (fetch's TypeError): a Go server may close an idle
 * keep-alive connection just as the next request goes out on it ("other side closed").
 */
export async function withRetries<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof TypeError) || i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * i));
    }
  }
}

export function toxiproxyBinary(): string {
  const { TOXIPROXY_VERSION } = readVersions() as unknown as { TOXIPROXY_VERSION: string };
  return join(cacheRoot(), 'components', `toxiproxy-${TOXIPROXY_VERSION}`, 'bin', 'toxiproxy-server');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class Toxiproxy {
  /** Every proxy made, by name: recreated on the same addresses if the server has to be restarted. */
  private readonly made = new Map<string, { listen: string; upstream: string }>();

  private constructor(
    private child: ChildProcess,
    readonly api: string,
    private readonly port: number,
  ) {}

  static async start(): Promise<Toxiproxy> {
    const port = await freePort();
    const proxy = new Toxiproxy(await Toxiproxy.spawn(port), `http://127.0.0.1:${port}`, port);
    await proxy.answering();
    return proxy;
  }

  private static async spawn(port: number): Promise<ChildProcess> {
    const binary = toxiproxyBinary();
    if (!existsSync(binary))
      throw new Error(`${binary} is missing: run bash scripts/build-components.sh toxiproxy`);
    return spawn(binary, ['-host', '127.0.0.1', '-port', String(port)], { stdio: 'ignore' });
  }

  private answering(): Promise<unknown> {
    return eventually('toxiproxy to answer', async () => (await fetch(`${this.api}/version`)).ok, {
      timeoutMs: 10_000,
    });
  }

  private async call(method: string, path: string, body?: unknown, attempt = 1): Promise<unknown> {
    const response = await withRetries(() =>
      fetch(`${this.api}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    const text = await response.text();
    // Removing toxics waits for the connections they hold; the API may answer 503 Timeout meanwhile.
    if (response.status === 503 && attempt < 20) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 2000)));
      return this.call(method, path, body, attempt + 1);
    }
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** A proxy on a free loopback port in front of `upstream` (`host:port`); returns its `host:port`. */
  async proxy(name: string, upstream: string): Promise<string> {
    const created = (await this.call('POST', '/proxies', {
      name,
      listen: '127.0.0.1:0',
      upstream,
      enabled: true,
    })) as { listen: string };
    this.made.set(name, { listen: created.listen, upstream });
    return created.listen;
  }

  addToxic(proxy: string, toxic: Toxic): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}/toxics`, { toxicity: 1, ...toxic });
  }

  removeToxic(proxy: string, name: string): Promise<unknown> {
    return this.call('DELETE', `/proxies/${proxy}/toxics/${name}`);
  }

  /**
   * Every toxic removed, every proxy enabled. Removing a toxic waits for the connections it holds, and
   * the API answers 503 Timeout meanwhile while the removal goes on; so this asks again until /proxies
   * shows no toxic and no disabled proxy. A toxic on a connection nobody reads (an idle keep-alive
   * connection under a bandwidth or limit_data toxic) is never released: after `timeoutMs` the server
   * is restarted and its proxies made again on the same addresses, which cuts every connection
   * through them (as a reset_peer fault would; the client must reconnect either way).
   */
  async reset(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await withRetries(() => fetch(`${this.api}/reset`, { method: 'POST' }));
      await answer.text();
      if (answer.ok || (await this.clean())) return;
      if (Date.now() > deadline) return this.restart();
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  /** Times the server had to be restarted to clear its toxics. */
  restarts = 0;

  private async restart(): Promise<void> {
    this.restarts++;
    await this.stop('SIGKILL');
    this.child = await Toxiproxy.spawn(this.port);
    await this.answering();
    for (const [name, { listen, upstream }] of this.made)
      await this.call('POST', '/proxies', { name, listen, upstream, enabled: true });
  }

  /** No proxy has a toxic or is disabled. */
  private async clean(): Promise<boolean> {
    const answer = await withRetries(() => fetch(`${this.api}/proxies`));
    if (!answer.ok) return false;
    const proxies = (await answer.json()) as Record<string, { enabled: boolean; toxics: unknown[] }>;
    return Object.values(proxies).every((p) => p.enabled && p.toxics.length === 0);
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}
