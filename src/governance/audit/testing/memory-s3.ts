// An in-memory AuditS3Port with S3's versioning and Object Lock rules as the audit trail meets
// them: a PUT adds a version, a locked version cannot be deleted (unit tests).

import type { AuditS3Port, S3ObjectVersion } from '../s3.ts';

export class MemoryS3 implements AuditS3Port {
  readonly versions: Array<S3ObjectVersion & { body: string; retainUntil: Date }> = [];
  private counter = 0;
  /** Makes the next putLocked calls fail (the bucket unreachable). */
  failPuts = 0;

  async putLocked(key: string, body: string, retainUntil: Date) {
    if (this.failPuts > 0) {
      this.failPuts--;
      throw new Error('S3 unreachable');
    }
    this.versions.push({
      key,
      body,
      retainUntil,
      versionId: `v${++this.counter}`,
      lastModified: new Date(0),
      deleteMarker: false,
    });
    return { requestId: `req-${this.counter}` };
  }

  async listVersions(prefix: string) {
    // Newest first, as S3 lists them.
    return this.versions
      .filter((v) => v.key.startsWith(prefix))
      .reverse()
      .map(({ body: _b, retainUntil: _r, ...v }) => v);
  }

  async get(key: string, versionId?: string) {
    const found = this.versions
      .filter((v) => v.key === key && (!versionId || v.versionId === versionId))
      .at(-1);
    if (!found) throw new Error(`NoSuchKey ${key}`);
    return found.body;
  }

  keys(): string[] {
    return [...new Set(this.versions.map((v) => v.key))];
  }
}
