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
//    to the same cluster as the same user;
//  - that pool speaks HTTP/1.1, one request per connection at a time. undici 8 negotiates HTTP/2 by
//    default, which multiplexes every request and watch onto one connection: when that connection
//    goes silently dead (a half-open connection after a NAT or load-balancer timeout), every later
//    request, watch resumption included, queues on it and hangs, and the caches stop seeing changes
//    (test/integration/safety/lost-events.test.ts). Over HTTP/1.1 a dead connection holds only the
//    request on it: that request's timeout (or a watch's inactivity timeout) destroys it, and the
//    next one opens a fresh connection.

import * as k8s from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];
type CreateDispatcher = (cluster: k8s.Cluster | null, agentOptions: object) => Dispatcher | undefined;

export class BoundedKubeConfig extends k8s.KubeConfig {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(private readonly requestTimeoutMs: number) {
    super();
    // client-node builds its dispatcher in a private method from the public createDispatcherOptions;
    // this instance's version builds the direct (no proxy) one without HTTP/2.
    const viaProxy = (k8s.KubeConfig.prototype as unknown as { createDispatcher: CreateDispatcher })
      .createDispatcher;
    const createDispatcher: CreateDispatcher = (cluster, agentOptions) => {
      const options = this.createDispatcherOptions(cluster, agentOptions);
      if (options.type === 'agent')
        return new Agent({
          connect: options.connect as NonNullable<Agent.Options['connect']>,
          allowH2: false,
        });
      return viaProxy.call(this, cluster, agentOptions);
    };
    Object.defineProperty(this, 'createDispatcher', { value: createDispatcher });
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
