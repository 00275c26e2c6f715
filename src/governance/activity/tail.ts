// The operator's edge onto audit files: follows each file as it grows (from the offset read last
// time; from the start again when the file was truncated or replaced by rotation), parses the new
// complete lines and counts them into an ActivityWindow. Read errors are reported, never thrown
// into a reconcile: activity is an observation, best effort.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { PARSERS } from './read.ts';
import type { ActivityWindow } from './window.ts';

export interface TailedFile {
  source: 'kubernetes' | 'vault';
  path: string;
}

interface Position {
  offset: number;
  ino: number;
  partial: string;
}

/** At most this much is read from one file per refresh, so a huge backlog cannot stall a reconcile. */
const MAX_READ_BYTES = 8 * 1024 * 1024;

export class AuditFileTail {
  private readonly positions = new Map<string, Position>();
  /** Files with more to read than the last refresh took (a backlog past MAX_READ_BYTES). */
  private readonly behind = new Set<string>();

  constructor(
    private readonly files: readonly TailedFile[],
    private readonly window: ActivityWindow,
    private readonly onError: (file: string, error: unknown) => void = () => {},
  ) {}

  /** Every file was read to its end by the last refresh (and none failed). */
  get caughtUp(): boolean {
    return this.behind.size === 0;
  }

  /** Reads what was appended to every file since the last call. */
  refresh(now: Date): void {
    for (const file of this.files) {
      try {
        this.behind.delete(file.path);
        this.readNew(file, now);
      } catch (error) {
        this.behind.add(file.path);
        this.onError(file.path, error);
      }
    }
  }

  private readNew(file: TailedFile, now: Date): void {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(file.path);
    } catch {
      return; // not written yet
    }
    let position = this.positions.get(file.path);
    if (!position || position.ino !== stat.ino || stat.size < position.offset) {
      position = { offset: 0, ino: stat.ino, partial: '' };
      this.positions.set(file.path, position);
    }
    if (stat.size === position.offset) return;
    const fd = openSync(file.path, 'r');
    try {
      const remaining = fstatSync(fd).size - position.offset;
      const length = Math.min(remaining, MAX_READ_BYTES);
      if (remaining > length) this.behind.add(file.path);
      const buffer = Buffer.alloc(length);
      const read = readSync(fd, buffer, 0, length, position.offset);
      position.offset += read;
      const text = position.partial + buffer.subarray(0, read).toString('utf8');
      const lines = text.split('\n');
      position.partial = lines.pop() ?? '';
      const parse = PARSERS[file.source];
      for (const line of lines) {
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          continue;
        }
        for (const event of parse(value)) this.window.add(event, now);
      }
    } finally {
      closeSync(fd);
    }
  }
}
