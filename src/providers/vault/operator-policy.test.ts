import { describe, expect, it } from 'vitest';
import { operatorPolicy } from './operator-policy.ts';

describe("the operator's Vault policy", () => {
  const base = { kvMount: 'secret', kubernetesAuthMount: 'kubernetes' };

  it('reads only its own nhi-* roles by default', () => {
    expect(operatorPolicy(base)).not.toContain('path "auth/kubernetes/role/*"');
  });

  it('with observeRoles, adds read (and nothing else) on every kubernetes auth role', () => {
    const policy = operatorPolicy({ ...base, observeRoles: true });
    expect(policy).toContain('path "auth/kubernetes/role/*" {\n  capabilities = ["read"]\n}');
    const before = operatorPolicy(base).split('\n');
    const added = policy.split('\n').filter((line) => !before.includes(line));
    expect(added).toEqual([
      '# Observe mode: read-only access to the kubernetes auth roles it does not own.',
      'path "auth/kubernetes/role/*" {',
      '  capabilities = ["read"]',
    ]);
  });
});
