// (g) Identities with AWS roles against moto: a ClusterCredentialProvider whose endpoint is a counting
// proxy in front of moto, with a write ceiling (maxWritesPerSecond); N identities, each with one AWS
// scope (an IRSA role with its inline policy) and the usual rotated Kubernetes Secret, applied at once.
// Counted: AWS calls per identity by action until all are Ready, and the writes per second against
// the ceiling (the provider's token bucket: burst = ceiling, so any window of w seconds may hold
// ceiling × (w + 1) writes).

import type * as k8s from '@kubernetes/client-node';
import { applyObjects } from '../../src/dev/install.ts';
import {
  benchIdentity,
  ConditionClock,
  createDeployments,
  createIdentity,
  createNamespace,
  deleteNamespace,
  names,
  pool,
} from '../cluster.ts';
import { startCountingProxy } from '../counting-proxy.ts';
import { startBenchOperator } from '../operator-process.ts';
import { maxInWindow, tally } from '../traffic.ts';
import { type Context, operatorFlags, seconds } from './context.ts';

const CREDENTIAL_PROVIDERS = { group: 'nhi.dev', version: 'v1alpha1', plural: 'clustercredentialproviders' };

export async function awsRoles(ctx: Context): Promise<void> {
  const { env, options, progress, results } = ctx;
  const count = options.awsIdentities;
  const ceiling = options.awsMaxWritesPerSecond;
  const proxy = await startCountingProxy({ url: env.dev.aws.endpoint, dialect: 'aws' });
  const provider = `bench-aws-r${ctx.run}`;
  const issuerHost = new URL(env.dev.serviceAccountIssuer).host;
  await applyObjects(env.kc, [
    {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: provider },
      spec: {
        aws: {
          region: env.dev.aws.region,
          accountId: '123456789012',
          endpoint: proxy.url,
          rolePath: `/nhi-bench-r${ctx.run}/`,
          roleNamePrefix: 'nhi-',
          mode: 'irsa',
          irsa: {
            oidcProviderArn: `arn:aws:iam::123456789012:oidc-provider/${issuerHost}`,
            issuer: env.dev.serviceAccountIssuer,
          },
          maxWritesPerSecond: ceiling,
        },
      },
    } as k8s.KubernetesObject,
  ]);
  const namespace = `bench-aws-${count}-r${ctx.run}`;
  await createNamespace(env, namespace);
  const ids = names('agent', count);
  await createDeployments(env, namespace, ids, 8);
  const operator = startBenchOperator(env, operatorFlags(ctx));
  const clock = new ConditionClock(env, namespace);
  try {
    await operator.port();
    await clock.start();
    progress(`(g) applying ${count} identities with AWS roles; write ceiling ${ceiling}/s`);
    const from = Date.now();
    await pool(ids, options.workers, (name) =>
      createIdentity(
        env,
        benchIdentity(name, namespace, {
          provider: 'aws',
          providerRef: provider,
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        }),
      ),
    );
    await clock.until('Ready', ids, Math.max(600_000, (count * 20_000) / ceiling), (m) =>
      progress(`(g) ${m}`),
    );
    const last = Math.max(...ids.map((n) => clock.at('Ready', n) ?? 0));
    const calls = proxy.between(from, last + 1);
    const writes = calls.filter((c) => c.write).map((c) => c.at);
    const worst1s = maxInWindow(writes, 1000);
    const worst10s = maxInWindow(writes, 10_000);
    const held = worst1s <= 2 * ceiling && worst10s <= 11 * ceiling;
    progress(
      `(g) all Ready after ${seconds(last - from).toFixed(1)} s: ${(calls.length / count).toFixed(1)} AWS calls per identity, worst second ${worst1s} writes`,
    );
    results.add(`g.calls.${count}`, calls.length / count);
    results.add(`g.writes.${count}`, writes.length / count);
    results.add(`g.worst10s.${count}`, worst10s / 10);
    results.add(`g.held.${count}`, held ? 1 : 0);
    results.add(`g.seconds.${count}`, seconds(last - from));
    results.note(
      '(g) AWS roles against moto',
      `- run ${ctx.run}, ${count} identities, ceiling ${ceiling} writes/s: all Ready after ${seconds(last - from).toFixed(1)} s; ${calls.length} AWS calls (${writes.length} writes), per identity: ${tally(
        calls,
        (c) => c.what,
      )
        .map(([k, v]) => `${k} ${(v / count).toFixed(2)}`)
        .join(
          ', ',
        )}. Most writes in one second: ${worst1s} (bucket bound ${2 * ceiling}); in ten seconds: ${worst10s} (bound ${11 * ceiling}); answers by status: ${
        tally(calls, (c) => `${c.what} ${c.status ?? '?'}`)
          .filter(([k]) => !k.endsWith(' 200'))
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'all 200'
      } (a 404 on GetRole before CreateRole is the adoption check).`,
    );
  } finally {
    clock.stop();
    await operator.stop();
    await deleteNamespace(env, namespace, progress);
    await env.custom
      .deleteClusterCustomObject({ ...CREDENTIAL_PROVIDERS, name: provider })
      .catch(() => undefined);
    await proxy.close();
  }
}
