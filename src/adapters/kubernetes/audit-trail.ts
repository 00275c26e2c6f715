// Builds the operator's audit trail from its configuration: stdout always (a SIEM reads it), the
// file when configured, S3 Object Lock when a bucket is named, and the anchor in the cluster (the
// signed head in a ConfigMap, the key in a Secret) unless it runs as a single unelected process.

import * as k8s from '@kubernetes/client-node';
import type { AuditConfig } from '../../config.ts';
import type { AuditSigningKey } from '../../governance/audit/checkpoint.ts';
import { fileSink } from '../../governance/audit/file-sink.ts';
import { s3Sink } from '../../governance/audit/s3.ts';
import { auditS3Port } from '../../governance/audit/s3-adapter.ts';
import {
  AuditTrail,
  type HeadConflictError,
  streamSink,
  type TrailSink,
} from '../../governance/audit/trail.ts';
import {
  type AuditAnchorNames,
  configMapHeadStore,
  loadOrCreateSigningKey,
  publishPublicKey,
} from './audit-anchor.ts';

export function buildAuditTrail(
  kc: k8s.KubeConfig,
  config: AuditConfig,
  writer: string,
  options: {
    onFenced: (error: HeadConflictError) => void;
    onCheckpointError?: (error: unknown) => void;
    stdout?: Pick<NodeJS.WritableStream, 'write'>;
  },
): AuditTrail {
  const sinks: TrailSink[] = [streamSink(options.stdout)];
  if (config.logPath) sinks.push(fileSink(config.logPath));
  if (config.s3) {
    const { bucket, prefix, region, endpoint, retentionMs } = config.s3;
    sinks.push(
      s3Sink(
        auditS3Port({ bucket, ...(region && { region }), ...(endpoint && { endpoint }) }),
        { bucket, prefix },
        retentionMs,
      ),
    );
  }
  const names: AuditAnchorNames = { namespace: config.namespace, configMap: config.configMap };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let key: AuditSigningKey | undefined;
  return new AuditTrail({
    sinks,
    writer,
    onFenced: options.onFenced,
    ...(options.onCheckpointError && { onCheckpointError: options.onCheckpointError }),
    ...(config.anchor && {
      anchor: {
        store: configMapHeadStore(core, names),
        key: async () => {
          key ??= await loadOrCreateSigningKey(core, names);
          await publishPublicKey(core, names, key);
          return key;
        },
      },
    }),
  });
}
