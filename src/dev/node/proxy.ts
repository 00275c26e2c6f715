// The dev node's user-space forwarder (there is no kube-proxy, docs/node.md): pods reach the
// apiserver at the `kubernetes` Service address 10.0.0.1:443, and OpenBao and moto at the bridge's
// address, each forwarded to the loopback port the component listens on. Runs detached, started by
// node.ts with the Node.js running it (type stripping: node: imports only).
//   node proxy.ts 10.0.0.1:443=127.0.0.1:6443 10.244.0.1:8200=127.0.0.1:8200 ... [--state=<dir>]

import { connect, createServer, type Socket } from 'node:net';

function endpoint(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

const sockets = new Set<Socket>();
const rules = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const servers = rules.map((rule) => {
  const [from = '', to = ''] = rule.split('=');
  const listen = endpoint(from);
  const target = endpoint(to);
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', (error) => {
    console.error(`proxy ${rule}: ${error.message}`);
    process.exit(1);
  });
  server.listen(listen.port, listen.host, () => console.log(`proxy ${from} -> ${to}`));
  return server;
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const server of servers) server.close();
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
}
