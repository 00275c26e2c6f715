import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import {
  agentIdentity,
  inNamespace,
  withCredentialTTL,
  withPurpose,
  withUid,
} from '../../testing/agent-identity.ts';
import {
  isOurs,
  maxSessionDuration,
  missingTags,
  ownershipTags,
  ROLE_NAME_MAX,
  roleName,
  secretName,
  tagValue,
  tokenExpirationSeconds,
  versionIdFor,
  versionOf,
} from './names.ts';

const uid = '5f0c6a8e-1111-2222-3333-444455556666';

describe('roleName', () => {
  it('is prefix, namespace, name and a hash of the uid', () => {
    const name = roleName('nhi-', agentIdentity('support-bot', inNamespace('agents'), withUid(uid)));
    expect(name).toMatch(/^nhi-agents-support-bot-[0-9a-f]{8}$/);
  });

  it('is deterministic for the same uid and differs for another uid', () => {
    const a = roleName('nhi-', agentIdentity('bot', withUid(uid)));
    expect(roleName('nhi-', agentIdentity('bot', withUid(uid)))).toBe(a);
    expect(roleName('nhi-', agentIdentity('bot', withUid(`${uid}x`)))).not.toBe(a);
  });

  it.each([
    ['a'.repeat(63), 'b'.repeat(253)],
    ['ns', 'x'.repeat(80)],
    ['team-with-a-long-namespace-name', 'agent.with.dots.and-dashes-0123456789'],
  ])('stays within 64 characters and keeps prefix and hash (%s / %s)', (ns, name) => {
    const result = roleName('nhi-prod-', agentIdentity(name, inNamespace(ns), withUid(uid)));
    expect(result.length).toBeLessThanOrEqual(ROLE_NAME_MAX);
    expect(result.startsWith('nhi-prod-')).toBe(true);
    expect(result).toMatch(/-[0-9a-f]{8}$/);
    expect(result).toMatch(/^[\w+=,.@-]+$/);
    expect(result).not.toMatch(/[-.]-[0-9a-f]{8}$/);
  });
});

describe('secretName', () => {
  it('is nhi/<namespace>/<identity>/<secret>', () => {
    const identity = agentIdentity('support-bot', inNamespace('agents'));
    expect(secretName(identity, { name: 'crm-api-key', generator: { type: 'random' } })).toBe(
      'nhi/agents/support-bot/crm-api-key',
    );
  });
});

describe('tags', () => {
  it('carry uid, identity, owner, purpose, environment and managed-by', () => {
    const tags = ownershipTags(agentIdentity('bot', inNamespace('agents'), withUid(uid)));
    expect(tags).toEqual({
      [Marks.identityUid]: uid,
      [Marks.identityName]: 'agents/bot',
      [Marks.owner]: 'support-eng',
      [Marks.purpose]: 'Answer support tickets with read access to the CRM',
      [Marks.environment]: 'production',
      [Marks.managedBy]: 'nhi-operator',
      'nhi.dev/contact': 'support-eng@example.com',
    });
  });

  it.each([
    ['Read "CRM" tickets, then reply!', 'Read CRM tickets then reply'],
    ['a\nb\tc', 'a b c'],
    ['ok: a/b=c+d-e@f_g.h', 'ok: a/b=c+d-e@f_g.h'],
    ['x'.repeat(300), 'x'.repeat(256)],
  ])('tag value %j becomes %j', (input, expected) => {
    expect(tagValue(input)).toBe(expected);
  });

  it('truncates a long purpose to the tag value limit', () => {
    const tags = ownershipTags(agentIdentity('bot', withPurpose('p'.repeat(1000))));
    expect(tags[Marks.purpose]).toHaveLength(256);
  });

  it('recognises ownership only by our uid tag', () => {
    expect(isOurs({ [Marks.identityUid]: uid }, uid)).toBe(true);
    expect(isOurs({ [Marks.identityUid]: 'other' }, uid)).toBe(false);
    expect(isOurs({}, uid)).toBe(false);
    expect(isOurs(undefined, uid)).toBe(false);
  });

  it('re-applies missing or outdated tags but never the uid tag', () => {
    const desired = { [Marks.identityUid]: uid, [Marks.owner]: 'a', [Marks.purpose]: 'p' };
    expect(
      missingTags(desired, { [Marks.identityUid]: 'x', [Marks.owner]: 'b', [Marks.purpose]: 'p' }),
    ).toEqual({
      [Marks.owner]: 'a',
    });
  });
});

describe('session durations', () => {
  it.each([
    ['15m', 3600, 900],
    ['5m', 3600, 600],
    ['1h', 3600, 3600],
    ['90m', 5400, 5400],
    ['12h', 43_200, 43_200],
    ['24h', 43_200, 86_400],
    // Unset means the CRD default (15m), as the apiserver applies it.
    [undefined, 3600, 900],
  ])('credentialTTL %s -> MaxSessionDuration %i, token-expiration %i', (ttl, session, token) => {
    const identity = agentIdentity('bot', withCredentialTTL(ttl));
    expect(maxSessionDuration(identity)).toBe(session);
    expect(tokenExpirationSeconds(identity)).toBe(token);
  });
});

describe('version ids', () => {
  it('encode the version counter and fit Secrets Manager limits', () => {
    const id = versionIdFor(3, '0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(id.length).toBeGreaterThanOrEqual(32);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(versionOf(id)).toBe(3);
    expect(versionOf('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(0);
  });
});
