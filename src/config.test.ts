// The operator's audit settings: the anchored chain follows leader election unless told otherwise,
// its ConfigMap is named after the Lease, and S3 needs the anchor (refused naming the flag).

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('audit configuration', () => {
  it('anchors the chain with leader election, in a ConfigMap named after the Lease', () => {
    const config = loadConfig(['--lease-name=nhi-prod'], { POD_NAMESPACE: 'nhi-system' });
    expect(config.audit).toMatchObject({
      anchor: true,
      configMap: 'nhi-prod-audit',
      namespace: 'nhi-system',
      checkpointIntervalMs: 30_000,
      logPath: '/var/lib/nhi-operator/audit.jsonl',
    });
    expect(config.audit.s3).toBeUndefined();
  });

  it('keeps a local chain for a single unelected process unless asked to anchor it', () => {
    expect(loadConfig(['--leader-elect=false'], {}).audit.anchor).toBe(false);
    expect(loadConfig(['--leader-elect=false', '--audit-anchor=true'], {}).audit.anchor).toBe(true);
  });

  it('reads the S3 sink from flags or the environment', () => {
    const config = loadConfig([], {
      NHI_AUDIT_S3_BUCKET: 'acme-audit',
      NHI_AUDIT_S3_PREFIX: 'prod/',
      NHI_AUDIT_S3_ENDPOINT: 'http://127.0.0.1:5000',
      NHI_AUDIT_S3_RETENTION: '48h',
    });
    expect(config.audit.s3).toEqual({
      bucket: 'acme-audit',
      prefix: 'prod/',
      endpoint: 'http://127.0.0.1:5000',
      retentionMs: 48 * 3_600_000,
    });
  });

  it.each([
    [['--leader-elect=false', '--audit-s3-bucket=b'], /--audit-s3-bucket needs the anchored chain/],
    [['--audit-checkpoint-interval=soon'], /--audit-checkpoint-interval: "soon" is not a positive duration/],
    [['--audit-s3-bucket=b', '--audit-s3-retention=0'], /--audit-s3-retention/],
  ])('refuses %j, naming the flag', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
});
