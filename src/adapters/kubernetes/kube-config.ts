// The operator's KubeConfig:
//  - every API request gives up after a bounded time. client-node's requests go through an undici
//    pool whose default waits 300 s for response headers, so a request sent on a half-open keep-alive
//    connection (a NAT or load balancer that dropped it silently) would hold a worker for five
//    minutes, and with it the orphan sweep. Watches are not affected: client-node's Watch sets its
//    own signal (an inactivity timeout), which this leaves alone;
//  - every request shares one connection pool. client-node 2.0 builds a new undici Agent for each
//    request, so each request opened a new TCP and TLS connection (a new SecureContext parsing the CA
//    and client certificate, a handshake) and left it to the garbage collector: at 1,000 identities a
//    fifth of the operator's CPU went to TLS handshakes, and its memory to sockets waiting to be
//    collected. The first request's Agent is kept and reused (keep-alive) for every later request
//    to the same cluster as the same user.

import * as k8s from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];

export class BoundedKubeConfig extends k8s.KubeConfig {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(private readonly requestTimeoutMs: number) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh) {
      // Credentials carried by the connection (client certificates) are part of the key: a changed
      // kubeconfig user or cluster gets its own pool.
      const user = this.getCurrentUser();
      const cluster = this.getCurrentCluster();
      const key = JSON.stringify([
        cluster?.name,
        cluster?.server,
        cluster?.caFile,
        cluster?.caData,
        user?.name,
        user?.certFile,
        user?.certData,
        user?.keyFile,
      ]);
      const shared = this.dispatchers.get(key) ?? fresh;
      this.dispatchers.set(key, shared);
      if (shared !== fresh) void fresh.close().catch(() => undefined);
      context.setDispatcher(shared);
    }
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
  }
}
