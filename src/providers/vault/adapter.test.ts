// The node-vault adapter over a scripted client: wire names to port names, error mapping, and one
// re-authentication after a 403. (The integration tests run the same adapter against OpenBao.)

import { describe, expect, it } from 'vitest';
import { fakeVaultToken } from '../../../test/support/fake-credentials.ts';
import { ThrottledError, UnavailableError } from '../types.ts';
import { type NodeVaultClient, NodeVaultPort } from './adapter.ts';
import type { TokenSource } from './auth.ts';
import { CasMismatchError, VaultPermissionError, VaultRequestError } from './errors.ts';

type Call = { method: string; path: string; body?: unknown; token?: string };
type Answer = unknown | ((call: Call) => unknown);

function apiError(statusCode: number, errors: string[] = []) {
  return Object.assign(new Error(errors[0] ?? `Status ${statusCode}`), {
    response: { statusCode, body: { errors } },
  });
}

function scripted(answers: Record<string, Answer>) {
  const calls: Call[] = [];
  const answer = async (
    method: string,
    path: string,
    body: unknown,
    options?: { headers?: Record<string, string> },
  ) => {
    const call: Call = {
      method,
      path,
      body,
      ...(options?.headers?.['X-Vault-Token'] ? { token: options.headers['X-Vault-Token'] } : {}),
    };
    calls.push(call);
    const scriptedAnswer = answers[`${method} ${path}`];
    const value = typeof scriptedAnswer === 'function' ? scriptedAnswer(call) : scriptedAnswer;
    if (value instanceof Error) throw value;
    if (value === undefined) throw apiError(404);
    return value;
  };
  const client = {
    read: (path: string, o?: never) => answer('GET', path, undefined, o),
    list: (path: string, o?: never) => answer('LIST', path, undefined, o),
    delete: (path: string, o?: never) => answer('DELETE', path, undefined, o),
    write: (path: string, body: unknown, o?: never) => answer('POST', path, body, o),
    request: (o: { path: string; method: string }) => answer(o.method, o.path, undefined),
  } as unknown as NodeVaultClient;
  return { client, calls };
}

function tokens(...values: string[]): TokenSource & { invalidations: number } {
  let index = 0;
  return {
    invalidations: 0,
    async token() {
      return values[Math.min(index, values.length - 1)]!;
    },
    invalidate() {
      this.invalidations++;
      index++;
      return index < values.length;
    },
  };
}

describe('NodeVaultPort', () => {
  it('maps a kubernetes auth role from and to the wire', async () => {
    const { client, calls } = scripted({
      'GET auth/kubernetes/role/r': {
        data: {
          bound_service_account_names: ['bot'],
          bound_service_account_namespaces: ['agents'],
          bound_service_account_namespace_selector: '',
          token_policies: ['p'],
          token_ttl: 900,
          token_max_ttl: 3600,
          token_period: 0,
          token_type: 'default',
          audience: 'vault',
        },
      },
      'POST auth/kubernetes/role/r': {},
    });
    const port = new NodeVaultPort(client, tokens('t'));
    const role = await port.readRole('kubernetes', 'r');
    expect(role).toMatchObject({
      boundServiceAccountNames: ['bot'],
      tokenTtlSeconds: 900,
      tokenType: 'default',
    });
    await port.writeRole('kubernetes', 'r', role!);
    expect(calls[1]?.body).toMatchObject({
      bound_service_account_names: ['bot'],
      token_ttl: 900,
      audience: 'vault',
    });
    expect(calls.every((c) => c.token === 't')).toBe(true);
  });

  it('reads absent things as undefined or empty lists, and deleting them succeeds', async () => {
    const port = new NodeVaultPort(scripted({}).client, tokens('t'));
    expect(await port.readPolicy('x')).toBeUndefined();
    expect(await port.readKvMetadata('secret', 'a')).toBeUndefined();
    expect(await port.readKvData('secret', 'a', 3)).toBeUndefined();
    expect(await port.listKv('secret', 'nhi/')).toEqual([]);
    await expect(port.deletePolicy('x')).resolves.toBeUndefined();
  });

  it('reads KV metadata with the metadata version used for check-and-set', async () => {
    const { client } = scripted({
      'GET secret/metadata/a': {
        data: {
          current_version: 2,
          current_metadata_version: 7,
          max_versions: 5,
          cas_required: true,
          custom_metadata: null,
          versions: { '1': { created_time: 't1', deletion_time: '', destroyed: true } },
        },
      },
    });
    const metadata = await new NodeVaultPort(client, tokens('t')).readKvMetadata('secret', 'a');
    expect(metadata).toEqual({
      currentVersion: 2,
      metadataVersion: 7,
      maxVersions: 5,
      casRequired: true,
      customMetadata: {},
      versions: { '1': { createdTime: 't1', deletionTime: '', destroyed: true } },
    });
  });

  it('takes token times in either form', async () => {
    const { client } = scripted({
      'POST auth/token/lookup-accessor': {
        data: {
          path: 'auth/kubernetes/login',
          meta: { role: 'r' },
          issue_time: '2025-01-01T00:00:00Z',
          last_renewal_time: 1735689660,
        },
      },
    });
    const info = await new NodeVaultPort(client, tokens('t')).lookupTokenAccessor('a');
    expect(info).toMatchObject({
      issueTime: '2025-01-01T00:00:00Z',
      lastRenewalTime: '2025-01-01T00:01:00.000Z',
    });
  });

  it('treats an accessor whose token is gone as absent', async () => {
    const { client } = scripted({
      'POST auth/token/lookup-accessor': apiError(400, ['1 error occurred:\n\t* invalid accessor\n\n']),
      'POST auth/token/revoke-accessor': apiError(400, ['1 error occurred:\n\t* invalid accessor\n\n']),
    });
    const port = new NodeVaultPort(client, tokens('t'));
    expect(await port.lookupTokenAccessor('a')).toBeUndefined();
    await expect(port.revokeTokenAccessor('a')).resolves.toBeUndefined();
  });

  it.each([
    [apiError(503, ['Vault is sealed']), UnavailableError],
    [apiError(500), UnavailableError],
    [apiError(429), ThrottledError],
    [apiError(403, ['permission denied']), VaultPermissionError],
    [apiError(400, ['check-and-set parameter did not match the current version']), CasMismatchError],
    [apiError(400, ['invalid policy']), VaultRequestError],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), { code: 'ECONNREFUSED' }),
      UnavailableError,
    ],
  ])('maps %s to %o', async (error, expected) => {
    const port = new NodeVaultPort(scripted({ 'POST sys/policies/acl/p': error }).client, tokens('t'));
    await expect(port.writePolicy('p', 'x')).rejects.toBeInstanceOf(expected);
  });

  it('re-authenticates once after a 403 and retries with the new token', async () => {
    const { client, calls } = scripted({
      'GET sys/policies/acl/p': (call: Call) =>
        call.token === 'old' ? apiError(403) : { data: { policy: 'hcl' } },
    });
    const source = tokens('old', 'new');
    expect(await new NodeVaultPort(client, source).readPolicy('p')).toBe('hcl');
    expect(calls.map((c) => c.token)).toEqual(['old', 'new']);
    expect(source.invalidations).toBe(1);
  });

  it('never puts a token or a secret value in an error', async () => {
    const secret = fakeVaultToken();
    const { client } = scripted({ 'POST secret/data/a': apiError(400, [`bad input near ${secret}`]) });
    const error = await new NodeVaultPort(client, tokens(secret))
      .writeKvData('secret', 'a', { value: 'super-secret-value-123' }, 0)
      .catch((e: Error) => e);
    expect(String(error)).not.toContain(secret);
    expect(String(error)).not.toContain('super-secret-value-123');
    expect((error as Error).cause).toBeUndefined();
  });
});
