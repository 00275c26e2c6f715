// Staged rotation against the real apiserver: 20 rotations while a consumer reads the Secret in a
// tight loop. Every read must hold a consistent pair (the current value of its version and the
// value of the version before), never an empty or torn state, and the watch must see exactly one
// write per rotation.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretSpec } from '../../../src/api/v1alpha1/types.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { core, createNamespace, decode, deleteNamespace, identityIn, kc, newProvider } from './support.ts';

const namespace = uniqueName('k8srot');
const provider = newProvider();
const spec: SecretSpec = {
  name: 'api-key',
  generator: { type: 'random', length: 40 },
  overlap: '1h',
  target: { secretName: 'rotor-api-key' },
};
const ROTATIONS = 20;
let ref: IdentityRef;

beforeAll(async () => {
  await createNamespace(namespace);
  ref = await identityIn(namespace, 'rotor', { secrets: [spec] });
  await provider.provision(ref);
});

afterAll(async () => {
  await deleteNamespace(namespace);
});

interface Read {
  version: number;
  current?: string;
  previous?: string;
  previousVersion?: number;
}

/** Counts MODIFIED events of the Secret from the moment it is established. */
async function watchWrites(name: string) {
  const events: string[] = [];
  const watch = new k8s.Watch(kc);
  const controller = await watch.watch(
    `/api/v1/namespaces/${namespace}/secrets`,
    { fieldSelector: `metadata.name=${name}` },
    (type: string, object: k8s.V1Secret) => {
      if (type === 'MODIFIED') events.push(object.metadata?.resourceVersion ?? '');
    },
    () => undefined,
  );
  return { events, stop: () => controller.abort() };
}

describe('rotation under a tight-loop reader', () => {
  it(`rotates ${ROTATIONS} times, one write each, never leaving the reader without a valid value`, async () => {
    const name = 'rotor-api-key';
    const initial = await core.readNamespacedSecret({ namespace, name });
    const values = new Map<number, string>([[1, decode(initial, 'api-key') ?? '']]);
    const watcher = await watchWrites(name);

    const reads: Read[] = [];
    let stop = false;
    let regressions = 0;
    const readLoop = async () => {
      let last = 0;
      while (!stop) {
        const secret = await core.readNamespacedSecret({ namespace, name });
        const annotations = secret.metadata?.annotations ?? {};
        const read: Read = { version: Number(annotations['nhi.dev/current-version']) };
        const current = decode(secret, 'api-key');
        const previous = decode(secret, 'api-key.previous');
        if (current !== undefined) read.current = current;
        if (previous !== undefined) read.previous = previous;
        if (annotations['nhi.dev/previous-version'])
          read.previousVersion = Number(annotations['nhi.dev/previous-version']);
        if (read.version < last) regressions++;
        last = read.version;
        reads.push(read);
      }
    };
    const readers = Promise.all([readLoop(), readLoop(), readLoop()]);

    const started = performance.now();
    const writes: number[] = [];
    for (let i = 0; i < ROTATIONS; i++) {
      const expected = i + 1;
      const result = await provider.rotate(ref, spec, { expectedCurrentVersion: expected });
      writes.push(result.writes);
      values.set(result.material.current.version, result.material.current.value);
      expect(result.material.previous?.value).toBe(values.get(expected));
    }
    const elapsed = performance.now() - started;
    stop = true;
    await readers;

    const final = await core.readNamespacedSecret({ namespace, name });
    await eventually('the watch to see the last write', async () =>
      watcher.events.at(-1) === final.metadata?.resourceVersion ? true : undefined,
    );
    watcher.stop();
    console.log(
      `[k8s-provider] ${ROTATIONS} rotations in ${elapsed.toFixed(0)} ms (${(elapsed / ROTATIONS).toFixed(1)} ms each), ` +
        `${reads.length} reads, ${watcher.events.length} writes seen by the watch`,
    );

    expect(writes).toEqual(Array(ROTATIONS).fill(1));
    expect(watcher.events).toHaveLength(ROTATIONS);
    expect(reads.length).toBeGreaterThan(ROTATIONS);

    for (const read of reads) {
      // Never neither: the current value is there and is the value of its version ...
      expect(read.current).toBeDefined();
      expect(read.current).toBe(values.get(read.version));
      // ... and once rotated, the previous one is the value of the version before.
      if (read.version > 1) {
        expect(read.previousVersion).toBe(read.version - 1);
        expect(read.previous).toBe(values.get(read.version - 1));
      }
    }
    expect(regressions).toBe(0);
    expect(Math.max(...reads.map((r) => r.version))).toBe(ROTATIONS + 1);

    const retry = await provider.rotate(ref, spec, { expectedCurrentVersion: ROTATIONS });
    expect(retry.writes).toBe(0);
    expect(retry.material.current.version).toBe(ROTATIONS + 1);
  });

  it('retires the previous value only after its overlap window', async () => {
    await provider.retirePrevious(ref, spec);
    expect((await provider.readSecret(ref, spec))?.previous).toBeDefined();

    const shortOverlap: SecretSpec = { ...spec, overlap: '0s' };
    await provider.retirePrevious(ref, shortOverlap);
    expect((await provider.readSecret(ref, spec))?.previous).toBeDefined();

    await provider.rotate(ref, shortOverlap);
    await provider.retirePrevious(ref, shortOverlap);
    const material = await provider.readSecret(ref, spec);
    expect(material?.previous).toBeUndefined();
    expect(material?.current.version).toBe(ROTATIONS + 2);
  });
});
