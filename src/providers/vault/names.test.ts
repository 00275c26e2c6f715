import { describe, expect, it } from 'vitest';
import { inNamespace, withUid } from '../../testing/agent-identity.ts';
import { InvalidScopeError } from './errors.ts';
import { identityNames, secretPath, shortUidHash } from './names.ts';
import { identityRef } from './testing/fixtures.ts';

describe('identityNames', () => {
  it('derives nhi-<namespace>-<name>-<hash of uid> and the KV folder', () => {
    const names = identityNames(identityRef('support-bot', inNamespace('agents'), withUid('abc-123')));
    expect(names.base).toBe(`nhi-agents-support-bot-${shortUidHash('abc-123')}`);
    expect(names.base).toMatch(/^nhi-agents-support-bot-[0-9a-f]{8}$/);
    expect(names.kvFolder).toBe('nhi/agents/support-bot');
    expect(names.ownerRecord).toBe(`nhi/_owners/${names.base}`);
  });

  it('is deterministic for one uid and differs for another uid with the same name', () => {
    const a = identityNames(identityRef('bot', withUid('u-1')));
    expect(identityNames(identityRef('bot', withUid('u-1'))).base).toBe(a.base);
    expect(identityNames(identityRef('bot', withUid('u-2'))).base).not.toBe(a.base);
  });

  it('stays short for long namespaces and names', () => {
    const names = identityNames(identityRef('b'.repeat(200), inNamespace('n'.repeat(63))));
    expect(names.base.length).toBeLessThanOrEqual(4 + 40 + 1 + 40 + 1 + 8);
  });

  it.each([['UPPER'], ['a/b'], ['-x']])('refuses the identity name %s', (name) => {
    expect(() => identityNames(identityRef(name))).toThrow(InvalidScopeError);
  });

  it('refuses an identity without a uid (not yet created)', () => {
    const ref = identityRef('bot');
    delete ref.identity.metadata.uid;
    expect(() => identityNames(ref)).toThrow(/no uid/);
  });
});

describe('secretPath', () => {
  const names = identityNames(identityRef('bot', inNamespace('agents')));
  it('puts each secret under the identity folder', () => {
    expect(secretPath(names, 'crm-api-key')).toBe('nhi/agents/bot/crm-api-key');
  });
  it.each([['../x'], ['a/b'], [''], ['x'.repeat(129)]])('refuses the secret name %j', (name) => {
    expect(() => secretPath(names, name)).toThrow(InvalidScopeError);
  });
});
