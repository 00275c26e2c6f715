import { beforeEach, describe, expect, it } from 'vitest';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import {
  agentIdentity,
  inNamespace,
  withScopes,
  withSecrets,
  withUid,
} from '../../testing/agent-identity.ts';
import { type IssuedLogin, NotOwnedError } from '../types.ts';
import { LoginKeys, loginState, loginStep, syncLoginSecret } from './login-secret.ts';
import { KubernetesProvider } from './provider.ts';
import { quarantinedSecret } from './secret-layout.ts';
import { FakeKubernetesPort } from './testing/fake-port.ts';
import { randomSecret, refOf } from './testing/fixtures.ts';

const ref = refOf(agentIdentity('rag', inNamespace('agents'), withUid('uid-rag')));
const NAME = 'rag-db';
const T0 = Date.parse('2026-03-01T12:00:00Z');
const LEASE_MS = 15 * 60_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const decode = (value: string | undefined) =>
  value ? Buffer.from(value, 'base64').toString('utf8') : undefined;

let port: FakeKubernetesPort;
let now: Date;
let issued: string[];
let discarded: string[];

function issuer(): () => Promise<IssuedLogin> {
  return async () => {
    const username = `user-${issued.length + 1}`;
    issued.push(username);
    return {
      username,
      password: `password-of-${username}`,
      expiresAt: new Date(now.getTime() + LEASE_MS),
      discard: async () => {
        discarded.push(username);
      },
    };
  };
}

const sync = () => syncLoginSecret(port, ref, NAME, issuer(), () => now);
const stored = () => port.peek('Secret', 'agents', NAME);

beforeEach(() => {
  port = new FakeKubernetesPort();
  now = at(0);
  issued = [];
  discarded = [];
});

describe('a database login kept in a target Secret', () => {
  it('writes a first login with the operator marks, and comes back at two thirds of its lease', async () => {
    const result = await sync();
    expect(result).toEqual({ renewed: 'first login', nextAt: at(10) });
    const secret = stored();
    expect(decode(secret?.data?.[LoginKeys.username])).toBe('user-1');
    expect(decode(secret?.data?.[LoginKeys.password])).toBe('password-of-user-1');
    expect(secret?.metadata?.labels?.['nhi.dev/identity-uid']).toBe('uid-rag');
    expect(secret?.metadata?.annotations?.[ObjectMarks.leaseExpiresAt]).toBe(at(15).toISOString());
    expect(secret?.type).toBe('Opaque');
  });

  it('issues nothing before two thirds of the lease', async () => {
    await sync();
    now = at(9);
    expect(await sync()).toEqual({ nextAt: at(10) });
    expect(issued).toEqual(['user-1']);
    expect(port.writesOf('Secret')).toHaveLength(1);
  });

  it('at two thirds stages the new login, keeping the old one until its lease ends, then drops it', async () => {
    await sync();
    now = at(10);
    expect(await sync()).toEqual({ renewed: 'renewal at two thirds of its lease', nextAt: at(15) });
    const renewed = stored();
    expect(decode(renewed?.data?.[LoginKeys.username])).toBe('user-2');
    expect(decode(renewed?.data?.[LoginKeys.previousUsername])).toBe('user-1');
    expect(decode(renewed?.data?.[LoginKeys.previousPassword])).toBe('password-of-user-1');
    expect(renewed?.metadata?.annotations?.[ObjectMarks.previousRetireAt]).toBe(at(15).toISOString());
    expect(loginState(renewed)).toMatchObject({ version: 2, hasPrevious: true });

    now = at(15);
    expect(await sync()).toEqual({ retired: true, nextAt: at(20) });
    const retired = stored();
    expect(retired?.data?.[LoginKeys.previousUsername]).toBeUndefined();
    expect(decode(retired?.data?.[LoginKeys.username])).toBe('user-2');
    expect(issued).toEqual(['user-1', 'user-2']);
  });

  it('does not stage a login whose lease already ended (the operator was away)', async () => {
    await sync();
    now = at(40);
    await sync();
    expect(stored()?.data?.[LoginKeys.previousUsername]).toBeUndefined();
    expect(decode(stored()?.data?.[LoginKeys.username])).toBe('user-2');
  });

  it('leaves a quarantined (emptied) Secret empty and issues nothing', async () => {
    await sync();
    port.mutate('Secret', 'agents', NAME, (s) => Object.assign(s, quarantinedSecret(s, T0)));
    now = at(11);
    expect(await sync()).toEqual({ quarantined: true });
    expect(issued).toEqual(['user-1']);
  });

  it('refuses a Secret without its marks before issuing any login', async () => {
    port.seed('Secret', { metadata: { name: NAME, namespace: 'agents' }, data: { username: 'eA==' } });
    await expect(sync()).rejects.toBeInstanceOf(NotOwnedError);
    expect(issued).toEqual([]);
  });

  it('keeps a login whose write landed although the call failed (a timeout after the apiserver acted)', async () => {
    const create = port.create.bind(port);
    port.create = async (kind, object) => {
      await create(kind, object);
      throw new Error('timeout after the write');
    };
    await expect(sync()).rejects.toThrow('timeout after the write');
    expect(discarded).toEqual([]);
    expect(decode(stored()?.data?.[LoginKeys.username])).toBe('user-1');
  });

  it('revokes a login it could not store', async () => {
    port.beforeWrite = () => {
      throw new Error('apiserver down');
    };
    await expect(sync()).rejects.toThrow('apiserver down');
    expect(discarded).toEqual(['user-1']);
  });

  it.each([
    [{ hasCurrent: false, version: 0, hasPrevious: false }, 'issue'],
    [{ hasCurrent: true, version: 1, hasPrevious: false, issuedAt: at(0), expiresAt: at(15) }, 'none'],
    [
      {
        hasCurrent: true,
        version: 2,
        hasPrevious: true,
        issuedAt: at(0),
        expiresAt: at(15),
        previousRetireAt: at(3),
      },
      'none',
    ],
  ])('decides from the recorded times alone (%o at minute 2: %s)', (state, kind) => {
    expect(loginStep(state, at(2)).kind).toBe(kind);
  });
});

describe('the Kubernetes provider and a login target', () => {
  const withTarget = refOf(
    agentIdentity(
      'rag',
      inNamespace('agents'),
      withUid('uid-rag'),
      withScopes({
        provider: 'vault',
        database: {
          grants: [{ schema: 'agents', allTables: true, privileges: ['SELECT'] }],
          target: { secretName: NAME },
        },
      }),
    ),
  );
  const kubernetes = () => new KubernetesProvider({ port, clock: { now: () => now.getTime() } });

  it('keeps it through provision, empties it at quarantine and deletes it at revocation', async () => {
    await syncLoginSecret(port, withTarget, NAME, issuer(), () => now);
    const provider = kubernetes();
    await provider.provision(withTarget);
    expect(decode(stored()?.data?.[LoginKeys.username])).toBe('user-1');
    await provider.quarantine(withTarget);
    expect(stored()?.data).toEqual({});
    expect(await syncLoginSecret(port, withTarget, NAME, issuer(), () => now)).toEqual({ quarantined: true });
    await provider.restore(withTarget);
    expect((await syncLoginSecret(port, withTarget, NAME, issuer(), () => now)).renewed).toBe('first login');
    expect(decode(stored()?.data?.[LoginKeys.username])).toBe('user-2');
    await provider.revoke(withTarget);
    expect(stored()).toBeUndefined();
  });

  it('deletes it once the target leaves the spec', async () => {
    await syncLoginSecret(port, withTarget, NAME, issuer(), () => now);
    await kubernetes().provision(refOf(agentIdentity('rag', inNamespace('agents'), withUid('uid-rag'))));
    expect(stored()).toBeUndefined();
  });

  it('refuses a login target that is also the target of a spec.secrets entry', async () => {
    const clash = refOf(
      agentIdentity(
        'rag',
        inNamespace('agents'),
        withUid('uid-rag'),
        withScopes(...(withTarget.identity.spec.scopes ?? [])),
        withSecrets(randomSecret('key', { target: { secretName: NAME } })),
      ),
    );
    await expect(kubernetes().provision(clash)).rejects.toThrow(/database\.target\.secretName rag-db/);
  });
});
