// From a ClusterCredentialProvider's `vault` spec to a ready VaultProvider: validated settings, a
// node-vault client (address, CA, namespace header), and the operator's own authentication:
//
//   auth.kubernetes      login with the operator's ServiceAccount token file (production)
//   auth.tokenFile       a token file kept fresh by something else, e.g. an agent sidecar
//   auth.tokenSecretRef  a static token from a Secret: dev environment only (allowStaticToken)
//
// Nothing here reads process.env; files and Secrets are read through injected functions.

import { readFile } from 'node:fs/promises';
import { parseDuration } from '../../api/v1alpha1/duration.ts';
import type { VaultProviderSpec } from '../../api/v1alpha1/types.ts';
import { type Clock, systemClock } from '../../runtime/clock.ts';
import { InvalidConfigError, type LoginTargetSync } from '../types.ts';
import { createNodeVaultClient, kubernetesLogin, NodeVaultPort } from './adapter.ts';
import { KubernetesLoginSource, RereadingTokenSource, type TokenSource } from './auth.ts';
import { type DatabaseSettings, databaseSettings } from './database.ts';
import type { VaultPort } from './port.ts';

export const DEFAULT_SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const DEFAULT_TOKEN_MAX_TTL = '1h';

export interface VaultProviderDeps {
  clock?: Clock;
  /** Reads a file as text (the ServiceAccount token, a token file). Defaults to fs.readFile. */
  readFile?: (path: string) => Promise<string>;
  /** Name of the ClusterCredentialProvider (matched against scopes' and secrets' providerRef). */
  name?: string;
  /** Allow auth.tokenSecretRef (a static token). Set only by the dev environment. */
  allowStaticToken?: boolean;
  /** Resolves auth.tokenSecretRef to the token text (the controller reads the Secret). */
  resolveSecretRef?: (ref: { name: string; namespace: string; key: string }) => Promise<string>;
  /** Writes database logins into target Secrets (database.target); the operator passes its Kubernetes side. */
  loginTargets?: LoginTargetSync;
  /** Replaces the node-vault adapter entirely (tests). */
  port?: VaultPort;
  timeoutMs?: number;
  maxVersions?: number;
  /** Use auth/token/accessors for last use and token revocation (default true). */
  tokenAccessors?: boolean;
  tokenScanCacheMs?: number;
}

/** The validated settings a VaultProvider runs with (vaultProviderOptions builds them from a spec). */
export interface VaultProviderOptions {
  /** Name of the ClusterCredentialProvider: scopes and secrets with this providerRef (or none) are ours. */
  name?: string;
  kvMount: string;
  kubernetesAuthMount: string;
  /** Required `aud` of the workload's ServiceAccount token at login; '' for none. */
  audience: string;
  tokenMaxTtlSeconds: number;
  /** OpenBao's database secrets engine (spec.vault.database), when the platform set one up. */
  database?: DatabaseSettings;
  /** KV versions kept per secret. */
  maxVersions?: number;
  /** Use auth/token/accessors for last use and for revoking issued tokens (needs sudo on it). */
  tokenAccessors?: boolean;
  tokenScanCacheMs?: number;
}

const MOUNT = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

function mount(value: string | undefined, fallback: string, field: string): string {
  const m = (value ?? fallback).replace(/^\/+|\/+$/g, '');
  if (!MOUNT.test(m)) throw new InvalidConfigError(`vault.${field}: "${m.slice(0, 60)}" is not a mount path`);
  return m;
}

function tokenSource(
  spec: VaultProviderSpec,
  deps: VaultProviderDeps,
  login: (mount: string, role: string, jwt: string) => Promise<{ token: string; leaseSeconds: number }>,
): TokenSource {
  const clock = deps.clock ?? systemClock;
  const read = deps.readFile ?? ((path: string) => readFile(path, 'utf8'));
  const { kubernetes, tokenFile, tokenSecretRef } = spec.auth ?? {};
  const chosen = [kubernetes, tokenFile, tokenSecretRef].filter((a) => a !== undefined).length;
  if (chosen !== 1) {
    throw new InvalidConfigError('vault.auth: set exactly one of kubernetes, tokenFile, tokenSecretRef');
  }
  if (kubernetes) {
    if (!kubernetes.role) throw new InvalidConfigError('vault.auth.kubernetes.role is required');
    const authMount = mount(kubernetes.mount, 'kubernetes', 'auth.kubernetes.mount');
    const path = kubernetes.tokenPath ?? DEFAULT_SERVICE_ACCOUNT_TOKEN;
    return new KubernetesLoginSource(
      (jwt) => login(authMount, kubernetes.role, jwt),
      () => read(path),
      clock,
    );
  }
  if (tokenFile) {
    if (!tokenFile.path) throw new InvalidConfigError('vault.auth.tokenFile.path is required');
    return new RereadingTokenSource(() => read(tokenFile.path), clock);
  }
  const ref = tokenSecretRef!;
  if (!deps.allowStaticToken || !deps.resolveSecretRef) {
    throw new InvalidConfigError(
      'vault.auth.tokenSecretRef (a static token) is allowed only in the dev environment',
    );
  }
  const resolve = deps.resolveSecretRef;
  return new RereadingTokenSource(() => resolve(ref), clock);
}

/** Validated provider options from the spec; throws InvalidConfigError with the field at fault. */
export function vaultProviderOptions(
  spec: VaultProviderSpec,
  deps: VaultProviderDeps = {},
): VaultProviderOptions {
  let url: URL;
  try {
    url = new URL(spec.address);
  } catch {
    throw new InvalidConfigError('vault.address is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidConfigError('vault.address must be an http(s) URL');
  }
  const maxMs = parseDuration(spec.tokenMaxTTL ?? DEFAULT_TOKEN_MAX_TTL);
  if (maxMs === undefined || maxMs <= 0)
    throw new InvalidConfigError('vault.tokenMaxTTL is not a positive duration');
  if (spec.audience !== undefined && !/^[\x21-\x7e]{1,256}$/.test(spec.audience)) {
    throw new InvalidConfigError('vault.audience must be printable text without spaces');
  }
  return {
    ...(deps.name ? { name: deps.name } : {}),
    kvMount: mount(spec.kvMount, 'secret', 'kvMount'),
    kubernetesAuthMount: mount(spec.kubernetesAuthMount, 'kubernetes', 'kubernetesAuthMount'),
    audience: spec.audience ?? '',
    tokenMaxTtlSeconds: Math.ceil(maxMs / 1000),
    ...(spec.database ? { database: databaseSettings(spec.database) } : {}),
    ...(deps.maxVersions === undefined ? {} : { maxVersions: deps.maxVersions }),
    ...(deps.tokenAccessors === undefined ? {} : { tokenAccessors: deps.tokenAccessors }),
    ...(deps.tokenScanCacheMs === undefined ? {} : { tokenScanCacheMs: deps.tokenScanCacheMs }),
  };
}

/** The node-vault adapter for a spec, authenticated as the spec says. */
export function vaultPortFromSpec(spec: VaultProviderSpec, deps: VaultProviderDeps = {}): VaultPort {
  const client = createNodeVaultClient({
    address: spec.address,
    ...(spec.caBundle ? { caPem: spec.caBundle } : {}),
    ...(spec.namespace ? { namespace: spec.namespace } : {}),
    ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
  });
  const tokens = tokenSource(spec, deps, (authMount, role, jwt) =>
    kubernetesLogin(client, authMount, role, jwt),
  );
  return new NodeVaultPort(client, tokens);
}

/** Everything VaultProvider's constructor takes, from a spec (VaultProvider.fromSpec uses it). */
export function vaultProviderParts(
  spec: VaultProviderSpec,
  deps: VaultProviderDeps = {},
): { options: VaultProviderOptions; port: VaultPort; clock: Clock; loginTargets?: LoginTargetSync } {
  const options = vaultProviderOptions(spec, deps);
  const port = deps.port ?? vaultPortFromSpec(spec, deps);
  return {
    options,
    port,
    clock: deps.clock ?? systemClock,
    ...(deps.loginTargets ? { loginTargets: deps.loginTargets } : {}),
  };
}
