// Which ClusterCredentialProvider a scope or secret uses: providerRef, else where the identity's
// credentials are recorded, else the provider named like the kind; never "the only one of its kind".

import { describe, expect, it } from 'vitest';
import type { AgentIdentity, Scope, SecretSpec } from '../api/v1alpha1/types.ts';
import { agentIdentity, withScopes } from '../testing/agent-identity.ts';
import { pinProviderRefs, resolvedProviderUses, resolveProviderName } from './resolution.ts';
import { InvalidConfigError } from './types.ts';

const vault = (providerRef?: string): Scope => ({
  provider: 'vault',
  ...(providerRef && { providerRef }),
  paths: [{ path: 'secret/data/crm/*', capabilities: ['read'] }],
});
const aws = (providerRef?: string): Scope => ({
  provider: 'aws',
  ...(providerRef && { providerRef }),
  actions: ['s3:GetObject'],
  resources: ['arn:aws:s3:::crm/*'],
});
const kvSecret = (providerRef?: string): SecretSpec => ({
  name: 'api-key',
  backend: 'vault-kv',
  ...(providerRef && { providerRef }),
  generator: { type: 'random', length: 32 },
});

function identity(scopes: Scope[], recorded: string[] = [], secrets: SecretSpec[] = []): AgentIdentity {
  const built = agentIdentity('bot', withScopes(...scopes));
  if (secrets.length > 0) built.spec.secrets = secrets;
  if (recorded.length > 0) built.status = { providers: ['kubernetes', ...recorded] };
  return built;
}

describe('resolveProviderName', () => {
  it.each([
    ['providerRef wins over everything', identity([vault('team-a')], ['vault/vault']), 'team-a'],
    ['nothing recorded: the provider named like the kind', identity([vault()]), 'vault'],
    ['recorded elsewhere: stays there', identity([vault()], ['vault/team-a']), 'team-a'],
    ['recorded at the default: stays there', identity([vault()], ['vault/vault']), 'vault'],
    [
      'a provider the spec names elsewhere is not where the unnamed scope is recorded',
      identity([vault()], ['vault/vault', 'vault/team-b'], [kvSecret('team-b')]),
      'vault',
    ],
    ['records of another kind do not count', identity([vault()], ['aws/team-a']), 'vault'],
  ])('%s', (_case, subject, expected) => {
    const scope = subject.spec.scopes?.[0];
    const ref = scope && 'providerRef' in scope ? scope.providerRef : undefined;
    expect(resolveProviderName(subject, 'vault', ref)).toBe(expected);
  });

  it('several recorded providers and no name in the spec: refuses to guess, naming them', () => {
    const subject = identity([vault()], ['vault/team-a', 'vault/team-b']);
    expect(() => resolveProviderName(subject, 'vault', undefined)).toThrow(InvalidConfigError);
    expect(() => resolveProviderName(subject, 'vault', undefined)).toThrow(
      /recorded in vault\/team-a and vault\/team-b; name the provider to use in providerRef/,
    );
  });

  it('does not depend on which providers exist: a second provider of the kind changes nothing', () => {
    // The rule reads only the identity; adding ClusterCredentialProviders cannot move it.
    const subject = identity([aws()], ['aws/team-a']);
    expect(resolveProviderName(subject, 'aws', undefined)).toBe('team-a');
    expect(resolveProviderName(identity([aws()]), 'aws', undefined)).toBe('aws');
  });
});

describe('resolvedProviderUses', () => {
  it('lists every aws and vault scope and secret with its field and provider, kubernetes ones not', () => {
    const subject = identity(
      [{ provider: 'kubernetes', rules: [] }, aws(), vault('team-v')],
      [],
      [kvSecret(), { name: 'local', generator: { type: 'random', length: 16 } }],
    );
    expect(resolvedProviderUses(subject)).toEqual([
      { kind: 'aws', field: 'spec.scopes[1]', providerRef: undefined, provider: 'aws' },
      { kind: 'vault', field: 'spec.scopes[2]', providerRef: 'team-v', provider: 'team-v' },
      { kind: 'vault', field: 'spec.secrets[0]', providerRef: undefined, provider: 'vault' },
    ]);
  });
});

describe('pinProviderRefs', () => {
  it('writes the resolved provider into every aws and vault scope and secret, and nothing else', () => {
    const subject = identity(
      [{ provider: 'kubernetes', rules: [] }, vault()],
      ['vault/team-a'],
      [kvSecret(), { name: 'local', generator: { type: 'random', length: 16 } }],
    );
    const pinned = pinProviderRefs(subject);
    expect(pinned.spec.scopes?.map((s) => ('providerRef' in s ? s.providerRef : undefined))).toEqual([
      undefined,
      'team-a',
    ]);
    expect(pinned.spec.secrets?.map((s) => s.providerRef)).toEqual(['team-a', undefined]);
    // The object read from the cache is left as it was.
    expect(subject.spec.scopes?.[1]).not.toHaveProperty('providerRef');
  });

  it('returns the identity itself when every provider is named already', () => {
    const subject = identity([vault('team-a')]);
    expect(pinProviderRefs(subject)).toBe(subject);
  });
});
