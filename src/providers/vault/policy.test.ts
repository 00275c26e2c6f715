import { describe, expect, it } from 'vitest';
import type { VaultScope } from '../../api/v1alpha1/types.ts';
import { inNamespace, withUid } from '../../testing/agent-identity.ts';
import { InvalidScopeError } from './errors.ts';
import { identityNames } from './names.ts';
import {
  canReach,
  parsePolicyHeader,
  renderPolicy,
  renderQuarantinePolicy,
  vaultScopeViolations,
} from './policy.ts';
import { identityRef } from './testing/fixtures.ts';

const names = identityNames(identityRef('support-bot', inNamespace('agents'), withUid('5a1f-77')));
const dev = { environment: 'development' as const, kvMount: 'secret' };
const prod = { environment: 'production' as const, kvMount: 'secret' };
const scope = (...paths: NonNullable<VaultScope['paths']>): VaultScope => ({ provider: 'vault', paths });

describe('renderPolicy', () => {
  it('renders a header, the scopes and read access to the identity’s own KV folder', () => {
    expect(renderPolicy(names, [scope({ path: 'secret/data/crm/*', capabilities: ['read'] })], dev)).toBe(
      [
        '# managed-by nhi-operator identity-uid 5a1f-77',
        '# identity agents/support-bot',
        '# state active',
        '',
        'path "secret/data/crm/*" {',
        '  capabilities = ["read"]',
        '}',
        '',
        'path "secret/data/nhi/agents/support-bot/*" {',
        '  capabilities = ["read"]',
        '}',
        '',
        'path "secret/metadata/nhi/agents/support-bot/*" {',
        '  capabilities = ["read", "list"]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('is stable: order of scopes and capabilities and duplicates do not change the text', () => {
    const a = renderPolicy(
      names,
      [
        scope({ path: 'kv/data/b', capabilities: ['update', 'read'] }),
        scope({ path: 'kv/data/a', capabilities: ['list'] }),
      ],
      dev,
    );
    const b = renderPolicy(
      names,
      [
        scope({ path: 'kv/data/a', capabilities: ['list', 'list'] }),
        scope({ path: 'kv/data/b', capabilities: ['read'] }, { path: 'kv/data/b', capabilities: ['update'] }),
      ],
      dev,
    );
    expect(a).toBe(b);
    expect(a.indexOf('kv/data/a')).toBeLessThan(a.indexOf('kv/data/b'));
    expect(a).toContain('capabilities = ["read", "update"]');
  });

  it('refuses a path that could inject HCL', () => {
    const hostile = scope({
      path: 'secret/x" { capabilities = ["sudo"] }\npath "sys/*',
      capabilities: ['read'],
    });
    expect(() => renderPolicy(names, [hostile], dev)).toThrow(InvalidScopeError);
  });

  it('writes an ownership header that parses back, for active and quarantined policies', () => {
    expect(parsePolicyHeader(renderPolicy(names, [], dev))).toEqual({
      uid: '5a1f-77',
      identity: 'agents/support-bot',
      state: 'active',
    });
    expect(parsePolicyHeader(renderQuarantinePolicy(names))?.state).toBe('quarantined');
    expect(parsePolicyHeader('path "a" { capabilities = ["read"] }')).toBeUndefined();
  });

  it('quarantines with an explicit deny on everything', () => {
    expect(renderQuarantinePolicy(names)).toContain('path "*" {\n  capabilities = ["deny"]\n}');
  });
});

describe('vaultScopeViolations', () => {
  it.each([
    ['secret/data/crm/*', ['read'], dev, 0],
    ['secret/data/crm/*', ['read'], prod, 0],
    ['database/creds/readonly', ['read'], prod, 0],
    ['sys/policies/acl/x', ['read'], dev, 1], // Vault's own configuration: every environment
    ['sys/policies/acl/x', ['read'], prod, 1],
    ['sys/*', ['read'], prod, 1],
    ['auth/kubernetes/role/x', ['update'], prod, 1],
    ['identity/entity/*', ['read'], prod, 1],
    ['+/policies/acl', ['read'], prod, 3], // a wildcard first segment reaches sys/, auth/ and identity/
    ['*', ['read'], dev, 5], // every identity's secrets, sys/, auth/, identity/ and the KV config
    ['secret/*', ['read'], dev, 2], // every identity's secrets and the KV mount's config
    ['secret/config', ['update'], dev, 1],
    ['secret/data/crm/*', ['read', 'sudo'], dev, 1],
    ['secret/data/*', ['read'], dev, 1],
    ['secret/data/n*', ['read'], dev, 1],
    ['secret/+/nhi/other/bot/*', ['read'], dev, 1],
    ['secret/data/nhix/*', ['read'], dev, 0],
    ['kv/data/app', ['sudo'], prod, 1],
    ['kv/data/app', ['read', 'fly'], dev, 1],
    ['kv/data/app', [], dev, 1],
    ['kv/../sys', ['read'], dev, 1],
    ['/kv/data/app', ['read'], dev, 1],
    ['kv/*/app', ['read'], dev, 1],
    ['kv/a+b/app', ['read'], dev, 1],
  ])('%s %j in %o → %d violation(s)', (path, capabilities, context, count) => {
    const violations = vaultScopeViolations([scope({ path, capabilities })], context);
    expect(violations, violations.join('\n')).toHaveLength(count as number);
  });

  it('reports every wildcard-only path in production', () => {
    for (const path of ['*', '+', '+/*', '+/+']) {
      const violations = vaultScopeViolations([scope({ path, capabilities: ['read'] })], prod);
      expect(violations.some((v) => v.includes('wildcard-only'))).toBe(true);
    }
  });
});

describe('canReach', () => {
  it.each([
    ['secret/data/crm/*', ['secret', 'data', 'nhi'], false],
    ['secret/data/*', ['secret', 'data', 'nhi'], true],
    ['secret/data/nhi', ['secret', 'data', 'nhi'], true],
    ['secret/data', ['secret', 'data', 'nhi'], false],
    ['+/data/nhi/x', ['secret', 'data', 'nhi'], true],
    ['s*', ['sys'], true],
    ['sysx/a', ['sys'], false],
  ])('%s reaches %j: %s', (pattern, prefix, expected) => {
    expect(canReach(pattern, prefix)).toBe(expected);
  });
});
