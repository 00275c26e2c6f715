// The operator's KubeConfig: every API request gives up after a bounded time. client-node's requests
// go through an undici pool whose default waits 300 s for response headers, so a request sent on a
// half-open keep-alive connection (a NAT or load balancer that dropped it silently) would hold a
// worker for five minutes, and with it the orphan sweep. Watches are not affected: client-node's Watch
// sets its own signal (an inactivity timeout), which this leaves alone.

import * as k8s from '@kubernetes/client-node';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];

export class BoundedKubeConfig extends k8s.KubeConfig {
  constructor(private readonly requestTimeoutMs: number) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
  }
}
