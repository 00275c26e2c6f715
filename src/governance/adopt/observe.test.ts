import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { observedIdentity, serviceAccountArg, switchToManagedPatch } from './observe.ts';

describe('adopting a shadow ServiceAccount observe-only', () => {
  it('recognises serviceaccount/NAME and sa/NAME, and leaves workloads to the secret form', () => {
    expect(serviceAccountArg('serviceaccount/legacy')).toBe('legacy');
    expect(serviceAccountArg('sa/legacy')).toBe('legacy');
    expect(serviceAccountArg('deployment/legacy')).toBeUndefined();
    expect(serviceAccountArg('serviceaccount/')).toBeUndefined();
  });

  it('writes an Observe-mode identity naming the ServiceAccount and roles, owner from its annotations', () => {
    const identity = observedIdentity({
      name: 'legacy',
      namespace: 'team-a',
      serviceAccount: 'legacy',
      annotations: { [Marks.owner]: 'team-a', [Marks.purpose]: 'nightly reports' },
      namespaceLabels: { [Marks.environment]: 'staging' },
      iamRole: 'legacy-role',
      vaultRole: 'legacy',
    });
    expect(identity.spec).toEqual({
      owner: { team: 'team-a' },
      purpose: 'nightly reports',
      environment: 'staging',
      management: 'Observe',
      observe: { serviceAccountName: 'legacy', iamRoleName: 'legacy-role', vaultRoleName: 'legacy' },
    });
  });

  it('refuses without an owner or purpose, naming the flag', () => {
    expect(() =>
      observedIdentity({
        name: 'x',
        namespace: 'team-a',
        serviceAccount: 'x',
        annotations: undefined,
        namespaceLabels: undefined,
      }),
    ).toThrow(/--owner .* and --purpose/);
  });

  it('the switch to Managed drops observe and names a new ServiceAccount, never the observed one', () => {
    const identity = observedIdentity({
      name: 'legacy',
      namespace: 'team-a',
      serviceAccount: 'legacy',
      annotations: undefined,
      namespaceLabels: undefined,
      owner: 'team-a',
      purpose: 'p',
    });
    expect(identity.spec.environment).toBe('production');
    expect(switchToManagedPatch(identity)).toEqual({
      spec: { management: 'Managed', observe: null, serviceAccountName: 'legacy-nhi' },
    });
  });
});
