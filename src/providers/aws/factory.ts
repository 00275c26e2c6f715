// From a ClusterCredentialProvider's `aws` spec to a ready AwsProvider (the factory main.ts
// registers), over real SDK v3 clients: the SDK's adaptive retry mode (client-side rate limiting on
// throttling), bounded attempts and timeouts, the provider's endpoint override, and credentials from
// the SDK default chain (IRSA / Pod Identity of the operator's own pod) unless the caller passes some
// explicitly (tests against moto).

import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient, type IAMClientConfig } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClusterCredentialProvider } from '../../api/v1alpha1/types.ts';
import { noteRequestId } from '../request-ids.ts';
import { eksAdapter } from './adapter-eks.ts';
import { iamAdapter } from './adapter-iam.ts';
import { secretsManagerAdapter } from './adapter-secrets-manager.ts';
import type { AwsProviderConfig } from './config.ts';
import { awsConfigFromSpec } from './config.ts';
import { AwsProvider, type AwsProviderDeps } from './provider.ts';

export interface AwsClientOptions {
  /** Attempts per call, including the first (SDK retries with adaptive backoff). Default 5. */
  maxAttempts?: number;
  /** Per-request socket timeout in ms. Default 15000. */
  requestTimeoutMs?: number;
  /** Explicit credentials; by default the SDK's default provider chain is used. */
  credentials?: NonNullable<IAMClientConfig['credentials']>;
}

export function sdkClientConfig(
  config: Pick<AwsProviderConfig, 'region' | 'endpoint'>,
  options: AwsClientOptions = {},
) {
  return {
    region: config.region,
    retryMode: 'adaptive',
    maxAttempts: options.maxAttempts ?? 5,
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  } as const;
}

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'deserialize'; priority: 'high'; name: string },
  ): void;
}

const requestIdOf = (value: unknown) =>
  (value as { $metadata?: { requestId?: unknown } } | undefined)?.$metadata?.requestId;

/**
 * Notes every attempt's request ID (x-amzn-RequestId, as the SDK reads it into `$metadata.requestId`)
 * in the audited step's scope (../request-ids.ts), failed attempts included. Placed in the deserialize
 * step, inside the SDK's retries, so a throttled attempt that CloudTrail saw is noted too.
 */
export function noteRequestIds<C extends { middlewareStack: unknown }>(client: C): C {
  (client.middlewareStack as MiddlewareStack).add(
    (next) => async (args) => {
      try {
        const result = await next(args);
        noteRequestId(requestIdOf((result as { output?: unknown }).output));
        return result;
      } catch (error) {
        noteRequestId(requestIdOf(error));
        throw error;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'nhiNoteRequestIds' },
  );
  return client;
}

/** The ports over real SDK clients; the EKS client only in pod-identity mode. */
export function createAwsPorts(
  config: AwsProviderConfig,
  options: AwsClientOptions = {},
): Pick<AwsProviderDeps, 'iam' | 'secretsManager' | 'eks'> {
  const base = sdkClientConfig(config, options);
  const ports: Pick<AwsProviderDeps, 'iam' | 'secretsManager' | 'eks'> = {
    iam: iamAdapter(noteRequestIds(new IAMClient(base))),
    secretsManager: secretsManagerAdapter(noteRequestIds(new SecretsManagerClient(base))),
  };
  if (config.mode === 'pod-identity') ports.eks = eksAdapter(noteRequestIds(new EKSClient(base)));
  return ports;
}

/** An AwsProvider for a ClusterCredentialProvider, with real SDK clients. */
export function createAwsProvider(
  provider: ClusterCredentialProvider,
  options: AwsClientOptions & Pick<AwsProviderDeps, 'clock'> = {},
): AwsProvider {
  const config = awsConfigFromSpec(provider.spec.aws, provider.metadata.name);
  const deps: AwsProviderDeps = { ...createAwsPorts(config, options) };
  if (options.clock) deps.clock = options.clock;
  return new AwsProvider(config, deps);
}

/** The factory main.ts registers: `registry.register('aws', awsProviderFactory())`. */
export function awsProviderFactory(
  options: AwsClientOptions & Pick<AwsProviderDeps, 'clock'> = {},
): (provider: ClusterCredentialProvider) => AwsProvider {
  return (provider) => createAwsProvider(provider, options);
}
