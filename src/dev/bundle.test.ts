import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleOperator } from './bundle.ts';

const dir = mkdtempSync(join(tmpdir(), 'nhi-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the operator bundle', () => {
  it('loads every module of the operator from one file, in a folder without node_modules', () => {
    const out = join(dir, 'nhi-operator.js');
    bundleOperator(out);
    // main.ts imports the whole operator before it reads its flags: --help loads all of it.
    const help = execFileSync(process.execPath, [out, '--help'], { cwd: dir, encoding: 'utf8' });
    expect(help).toMatch(/^nhi-operator: reconciles AgentIdentities/);
    expect(help).toContain('--watch-timeout');
    // One character outside ASCII (a regular expression esbuild cannot escape) makes V8 hold the
    // whole source as a two-byte string: twice its size in the heap for the life of the process.
    const bytes = readFileSync(out);
    const at = bytes.findIndex((byte) => byte > 0x7f);
    expect(at < 0 ? undefined : bytes.subarray(at, at + 40).toString('latin1')).toBeUndefined();
  }, 60_000);
});
