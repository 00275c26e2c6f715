import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { agentIdentity, withServiceAccount } from '../../testing/agent-identity.ts';
import {
  boundedName,
  currentKeyOf,
  isOurs,
  markLabels,
  previousKeyOf,
  rbacNameOf,
  serviceAccountNameOf,
  targetSecretNameOf,
  withMarks,
} from './names.ts';
import { randomSecret, refOf } from './testing/fixtures.ts';

describe('names', () => {
  it.each([
    ['the identity name by default', agentIdentity('support-bot'), 'support-bot'],
    [
      'spec.serviceAccountName when set',
      agentIdentity('support-bot', withServiceAccount('crm-reader')),
      'crm-reader',
    ],
  ])('names the ServiceAccount after %s', (_, identity, expected) => {
    expect(serviceAccountNameOf(identity)).toBe(expected);
  });

  it('names the Role and RoleBinding nhi-<identity>', () => {
    expect(rbacNameOf(agentIdentity('support-bot'))).toBe('nhi-support-bot');
  });

  it.each([
    ['<identity>-<secret> by default', randomSecret('crm-api-key'), 'support-bot-crm-api-key'],
    ['target.secretName when set', randomSecret('crm-api-key', { target: { secretName: 'crm' } }), 'crm'],
  ])('names the target Secret %s', (_, secret, expected) => {
    expect(targetSecretNameOf(agentIdentity('support-bot'), secret)).toBe(expected);
  });

  it.each([
    ['the secret name by default', randomSecret('crm-api-key'), 'crm-api-key'],
    [
      'target.key when set',
      randomSecret('crm-api-key', { target: { secretName: 's', key: 'token' } }),
      'token',
    ],
  ])('keys the current value by %s, the previous one with .previous', (_, secret, key) => {
    expect(currentKeyOf(secret)).toBe(key);
    expect(previousKeyOf(secret)).toBe(`${key}.previous`);
  });

  it('shortens names longer than 253 characters stably, ending in a hash', () => {
    const long = `nhi-${'a'.repeat(260)}`;
    expect(boundedName(long)).toHaveLength(253);
    expect(boundedName(long)).toBe(boundedName(long));
    expect(boundedName(`${long}b`)).not.toBe(boundedName(long));
    expect(boundedName('short')).toBe('short');
  });
});

describe('marks', () => {
  const ref = refOf(agentIdentity('support-bot'));

  it('labels every object with managed-by, identity uid, name, owner team and environment', () => {
    expect(markLabels(ref)).toEqual({
      [Marks.managedBy]: 'nhi-operator',
      [Marks.identityUid]: 'uid-of-support-bot',
      [Marks.identityName]: 'support-bot',
      [Marks.owner]: 'support-eng',
      [Marks.environment]: 'production',
    });
  });

  it('keeps values that are not valid label values out of labels', () => {
    const identity = agentIdentity('support-bot');
    identity.spec.owner.team = 'Support Engineering (EMEA)';
    expect(markLabels(refOf(identity))[Marks.owner]).toBeUndefined();
  });

  it.each([
    ['carries our identity uid', { labels: { [Marks.identityUid]: 'uid-of-support-bot' } }, true],
    ['carries another identity uid', { labels: { [Marks.identityUid]: 'uid-of-other' } }, false],
    ['only says managed-by', { labels: { [Marks.managedBy]: 'nhi-operator' } }, false],
    ['has no labels', {}, false],
  ])('an object that %s is ours: %s', (_, metadata, expected) => {
    expect(isOurs(metadata, 'uid-of-support-bot')).toBe(expected);
  });

  it('merges our marks into live metadata, keeping what others added, and reports adoption', () => {
    const live = {
      name: 'support-bot',
      labels: { team: 'x' },
      annotations: { 'kubectl.kubernetes.io/note': 'y' },
    };
    const { metadata, reasons } = withMarks(live, ref);
    expect(metadata.labels).toMatchObject({ team: 'x', [Marks.identityUid]: 'uid-of-support-bot' });
    expect(metadata.annotations).toMatchObject({
      'kubectl.kubernetes.io/note': 'y',
      [Marks.purpose]: ref.identity.spec.purpose,
    });
    expect(metadata.ownerReferences).toBeUndefined();
    expect(reasons).toEqual(['managed-by', 'labels', 'annotations']);
    expect(withMarks(metadata, ref).reasons).toEqual([]);
  });

  it("removes the ownerReference to the identity that earlier versions wrote, keeping others'", () => {
    const theirs = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'uid-x' };
    const earlier = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'AgentIdentity',
      name: 'support-bot',
      uid: 'uid-of-support-bot',
      controller: true,
      blockOwnerDeletion: false,
    };
    const marked = withMarks({ name: 'support-bot' }, ref).metadata;
    const { metadata, reasons } = withMarks({ ...marked, ownerReferences: [earlier, theirs] }, ref);
    expect(metadata.ownerReferences).toEqual([theirs]);
    expect(reasons).toEqual(['ownerReference']);
    const alone = withMarks({ ...marked, ownerReferences: [earlier] }, ref).metadata;
    expect(alone.ownerReferences).toBeUndefined();
  });
});
