// The AWS SDK behind AuditS3Port: PutObject with Object Lock in compliance mode, ListObjectVersions,
// GetObject by version.

import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { AuditS3Port, S3ObjectVersion } from './s3.ts';

export interface AuditS3ClientSettings {
  bucket: string;
  region?: string;
  /** An S3-compatible endpoint (moto in tests); path-style addressing then. */
  endpoint?: string;
  credentials?: S3ClientConfig['credentials'];
}

export function auditS3Port(settings: AuditS3ClientSettings): AuditS3Port {
  const client = new S3Client({
    ...(settings.region && { region: settings.region }),
    ...(settings.endpoint && { endpoint: settings.endpoint, forcePathStyle: true }),
    ...(settings.credentials && { credentials: settings.credentials }),
  });
  const Bucket = settings.bucket;
  return {
    async putLocked(key, body, retainUntil) {
      const out = await client.send(
        new PutObjectCommand({
          Bucket,
          Key: key,
          Body: body,
          ContentType: key.endsWith('.json') ? 'application/json' : 'application/x-ndjson',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: retainUntil,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      return out.$metadata.requestId ? { requestId: out.$metadata.requestId } : {};
    },
    async listVersions(prefix) {
      const found: S3ObjectVersion[] = [];
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListObjectVersionsCommand({ Bucket, Prefix: prefix, KeyMarker, VersionIdMarker }),
        );
        for (const v of page.Versions ?? [])
          if (v.Key && v.VersionId)
            found.push({
              key: v.Key,
              versionId: v.VersionId,
              lastModified: v.LastModified ?? new Date(0),
              deleteMarker: false,
            });
        for (const m of page.DeleteMarkers ?? [])
          if (m.Key && m.VersionId)
            found.push({
              key: m.Key,
              versionId: m.VersionId,
              lastModified: m.LastModified ?? new Date(0),
              deleteMarker: true,
            });
        if (!page.IsTruncated) return found;
        KeyMarker = page.NextKeyMarker;
        VersionIdMarker = page.NextVersionIdMarker;
      }
    },
    async get(key, versionId) {
      const out = await client.send(
        new GetObjectCommand({ Bucket, Key: key, ...(versionId && { VersionId: versionId }) }),
      );
      return (await out.Body?.transformToString('utf8')) ?? '';
    },
  };
}
