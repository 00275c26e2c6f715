// A TCP relay in front of a real server (the apiserver), for faults a client cannot tell from a broken
// network: `blackhole()` silences every connection open at that moment (bytes are dropped both ways,
// nothing is closed: a half-open connection after a NAT or load-balancer timeout), while new
// connections pass; `cut()` resets every open connection. Bytes pass through untouched (TLS included),
// so the client talks to the real server. Test-only, not a fake of any server.

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** `https://127.0.0.1:<port>`: point a kubeconfig's server here. */
  url: string;
  /** Connections accepted so far. */
  connections(): number;
  blackhole(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const open = new Set<{ client: Socket; upstream: Socket; silenced: boolean }>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream, silenced: false };
    open.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (!pair.silenced) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    connections: () => accepted,
    blackhole() {
      for (const pair of open) pair.silenced = true;
    },
    cut() {
      for (const pair of open) {
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
      }
    },
    close() {
      for (const pair of open) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
