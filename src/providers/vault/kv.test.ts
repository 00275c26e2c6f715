import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { inNamespace } from '../../testing/agent-identity.ts';
import { NotOwnedError } from '../types.ts';
import { CasMismatchError } from './errors.ts';
import { CURRENT_VERSION, KvSecrets, PENDING_VERSION, PREVIOUS_VERSION, rotationState } from './kv.ts';
import { identityNames } from './names.ts';
import { FakeVaultPort } from './testing/fake-port.ts';
import { crashingPort, identityRef, kvSecret, SimulatedCrash } from './testing/fixtures.ts';

const ref = identityRef('bot', inNamespace('agents'));
const names = identityNames(ref);
const secret = kvSecret('api-key');
const key = 'secret/nhi/agents/bot/api-key';
const clock = new FakeClock();

let port: FakeVaultPort;
let kv: KvSecrets;

beforeEach(() => {
  port = new FakeVaultPort(clock);
  kv = new KvSecrets(port, 'secret', clock);
});

function entry() {
  return port.kv.get(key)!;
}

describe('rotation', () => {
  it('creates the secret on the first rotation: one data write, owned, cas required, 5 versions kept', async () => {
    const result = await kv.rotate(ref, names, secret);
    expect(result.writes).toBe(1);
    expect(result.material.current.version).toBe(1);
    expect(result.material.current.value).toHaveLength(32);
    expect(result.material.previous).toBeUndefined();
    expect(entry().casRequired).toBe(true);
    expect(entry().maxVersions).toBe(5);
    expect(entry().customMetadata).toMatchObject({
      'app.kubernetes.io/managed-by': 'nhi-operator',
      'nhi.dev/identity-uid': ref.identity.metadata.uid,
      [CURRENT_VERSION]: '1',
    });
    expect(entry().customMetadata[PENDING_VERSION]).toBeUndefined();
  });

  it('keeps the old value as previous, and readSecret returns both', async () => {
    const first = await kv.rotate(ref, names, secret);
    const second = await kv.rotate(ref, names, secret);
    expect(second.material.current.version).toBe(2);
    expect(second.material.previous).toEqual(first.material.current);
    expect(second.material.current.value).not.toBe(first.material.current.value);
    expect(await kv.read(names, secret)).toEqual(second.material);
    expect(rotationState(entry().customMetadata)).toMatchObject({ current: 2, previous: 1 });
  });

  it('returns undefined from readSecret before the first rotation', async () => {
    expect(await kv.read(names, secret)).toBeUndefined();
  });

  it('refuses a same-named secret it does not own, without writing', async () => {
    await port.writeKvData('secret', 'nhi/agents/bot/api-key', { value: 'hand-made' }, 0);
    port.calls.length = 0;
    await expect(kv.rotate(ref, names, secret)).rejects.toBeInstanceOf(NotOwnedError);
    await expect(kv.read(names, secret)).rejects.toBeInstanceOf(NotOwnedError);
    expect(port.writes()).toEqual([]);
  });

  it('never promotes a version written behind its back', async () => {
    await kv.rotate(ref, names, secret);
    await port.writeKvData('secret', 'nhi/agents/bot/api-key', { value: 'foreign' }, 1);
    const result = await kv.rotate(ref, names, secret);
    expect(result.material.current.version).toBe(3);
    expect(result.material.previous?.version).toBe(1);
  });

  it('loses a check-and-set race cleanly, and the retry succeeds', async () => {
    await kv.rotate(ref, names, secret);
    const racing = crashingPort<FakeVaultPort>(port, 99);
    const original = port.writeKvData.bind(port);
    port.writeKvData = async (mount, path, data, cas) => {
      port.writeKvData = original;
      await original(mount, path, { value: 'racer' }, cas);
      return original(mount, path, data, cas);
    };
    await expect(
      new KvSecrets(racing.port, 'secret', clock).rotate(ref, names, secret),
    ).rejects.toBeInstanceOf(CasMismatchError);
    const retried = await kv.rotate(ref, names, secret);
    expect(retried.material.current.version).toBe(3);
    expect(retried.material.previous?.version).toBe(1);
  });
});

describe('a crash at each step of a rotation', () => {
  // read metadata, write intent, write data, write promotion, read current, read previous
  const steps = 6;
  it.each(Array.from({ length: steps * 2 }, (_, i) => [i >> 1, i % 2 ? 'after' : 'before'] as const))(
    'at call %i (%s the server acts): the retry completes with exactly one new version',
    async (at, when) => {
      const first = await kv.rotate(ref, names, secret);
      const crashing = crashingPort<FakeVaultPort>(port, at, when);
      await expect(
        new KvSecrets(crashing.port, 'secret', clock).rotate(ref, names, secret),
      ).rejects.toBeInstanceOf(SimulatedCrash);
      const state = rotationState(entry().customMetadata);
      const retry = state.current === 2 ? undefined : await kv.rotate(ref, names, secret);
      expect(entry().currentVersion).toBe(2);
      expect(rotationState(entry().customMetadata)).toMatchObject({ current: 2, previous: 1 });
      if (retry) expect(retry.writes).toBe(at >= 2 && !(at === 2 && when === 'before') ? 0 : 1);
      const material = await kv.read(names, secret);
      expect(material?.previous?.value).toBe(first.material.current.value);
    },
  );
});

describe('retirePrevious', () => {
  it('stops offering the previous value, then destroys every older version', async () => {
    await kv.rotate(ref, names, secret);
    await kv.rotate(ref, names, secret);
    await kv.rotate(ref, names, secret);
    port.calls.length = 0;
    expect(await kv.retirePrevious(names, secret)).toEqual([1, 2]);
    expect(port.writes()).toEqual(['writeKvMetadata', 'destroyKvVersions']);
    expect(entry().customMetadata[PREVIOUS_VERSION]).toBeUndefined();
    const material = await kv.read(names, secret);
    expect(material?.current.version).toBe(3);
    expect(material?.previous).toBeUndefined();
    expect(await kv.retirePrevious(names, secret)).toEqual([]);
  });

  it('is a no-op for a secret that does not exist', async () => {
    expect(await kv.retirePrevious(names, secret)).toEqual([]);
    expect(port.writes()).toEqual([]);
  });
});
