// Write-once storage on moto's S3 with Object Lock in compliance mode: the trail seals segments and
// checkpoints there (anchored in the real apiserver, signed with the key the operator generates),
// a locked object cannot be deleted or replaced before its retention ends, and `nhictl audit verify
// --s3-bucket` reads the locked originals back, names every overwrite or delete attempt, and checks
// the chain against the cluster's signed head.

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configMapHeadStore,
  loadOrCreateSigningKey,
  publishPublicKey,
} from '../../../src/adapters/kubernetes/audit-anchor.ts';
import type { AuditEntry } from '../../../src/governance/audit/audit.ts';
import { s3Sink } from '../../../src/governance/audit/s3.ts';
import { auditS3Port } from '../../../src/governance/audit/s3-adapter.ts';
import { AuditTrail, streamSink } from '../../../src/governance/audit/trail.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { nhictl } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const s3 = new S3Client({ ...awsClientConfig(), forcePathStyle: true });
const bucket = uniqueName('nhi-audit');
const prefix = 'cluster-a/';
const namespace = uniqueName('nhi-audit-s3');
const names = { namespace, configMap: 'nhi-operator-audit' };
// Long enough that nothing in this file outlives it; the last test locks its own object briefly.
const RETENTION_MS = 3_600_000;
const SHORT_RETENTION_MS = 3000;

const entry = (name: string): AuditEntry => ({
  action: 'provisioned',
  identity: { uid: `uid-${name}`, namespace: 'agents', name },
  actor: 'system:serviceaccount:nhi-system:nhi-operator',
  resource: `kubernetes:ServiceAccount/agents/${name}`,
  origin: 'reconcile',
  outcome: 'success',
});

const verifyArgs = () => {
  const { aws } = testEnv();
  return [
    'audit',
    'verify',
    '--s3-bucket',
    bucket,
    '--s3-prefix',
    prefix,
    '--s3-endpoint',
    aws.endpoint,
    '--s3-region',
    aws.region,
    '--cluster',
    '--anchor-namespace',
    namespace,
  ];
};

let segment = '';

beforeAll(async () => {
  await core.createNamespace({ body: namespaceBody(namespace) });
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const { aws } = testEnv();
  const trail = new AuditTrail({
    sinks: [
      streamSink({ write: () => true }),
      s3Sink(
        auditS3Port({
          bucket,
          region: aws.region,
          endpoint: aws.endpoint,
          credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
        }),
        { bucket, prefix },
        RETENTION_MS,
      ),
    ],
    anchor: {
      store: configMapHeadStore(core, names),
      key: async () => {
        const key = await loadOrCreateSigningKey(core, names);
        await publishPublicKey(core, names, key);
        return key;
      },
    },
    writer: 'operator-a',
  });
  await trail.open();
  for (const name of ['one', 'two', 'three']) await trail.record(entry(name));
  await trail.flush();
  for (const name of ['four', 'five']) await trail.record(entry(name));
  await trail.close();
});

async function keys(): Promise<string[]> {
  const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return [...new Set((listed.Versions ?? []).map((v) => v.Key ?? ''))].sort();
}

describe('the audit trail in an S3 bucket with Object Lock', () => {
  it('seals segments and signed checkpoints as objects locked in compliance mode', async () => {
    const stored = await keys();
    const segments = stored.filter((k) => k.includes('/segments/'));
    expect(segments.map((k) => k.replace(/^.*\/segments\//, ''))).toEqual([
      '000000000001-000000000003.jsonl',
      '000000000004-000000000005.jsonl',
    ]);
    expect(stored.filter((k) => k.includes('/checkpoints/')).length).toBe(3); // genesis, 3, 5
    for (const key of stored) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ObjectLockMode).toBe('COMPLIANCE');
      expect(head.ObjectLockRetainUntilDate?.getTime()).toBeGreaterThan(Date.now());
    }
    segment = segments[0]!;

    const verified = await nhictl(...verifyArgs());
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/5 records \(seq 1–5\), chain intact, signed up to checkpoint 5/);
  });

  it('refuses to delete or replace a locked object before its retention ends, and verify names each attempt', async () => {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: segment }));
    const original = listed.Versions?.[0]?.VersionId;
    expect(original).toBeDefined();
    const originalBody = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: segment, VersionId: original }))
    ).Body?.transformToString();

    // Deleting the locked version itself: refused.
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: segment, VersionId: original })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    // Writing over the key adds a version; the locked one stays, unchanged.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: segment, Body: '{"forged":true}\n' }));
    const after = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: segment, VersionId: original }));
    expect(await after.Body?.transformToString()).toBe(originalBody);
    // A plain delete only hides it behind a delete marker.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: segment }));

    const verified = await nhictl(...verifyArgs());
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain(`${segment}: 1 later version(s) written over it`);
    expect(verified.stderr).toContain(`${segment}: hidden by a delete marker`);
    // What it verified are the locked originals: the chain itself is intact.
    expect(verified.stdout).toMatch(/5 records \(seq 1–5\), chain intact/);
  });

  it('lets a locked version go only once its retention has ended', async () => {
    const { aws } = testEnv();
    const port = auditS3Port({
      bucket,
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    });
    const key = 'retention-probe/segment.jsonl';
    await port.putLocked(key, '{}\n', new Date(Date.now() + SHORT_RETENTION_MS));
    const [version] = await port.listVersions(key);
    await eventually(
      'the retention to end',
      async () => {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: version?.versionId }));
        return true;
      },
      { timeoutMs: SHORT_RETENTION_MS + 15_000, intervalMs: 500 },
    );
    expect(await port.listVersions(key)).toEqual([]);
  });
});
