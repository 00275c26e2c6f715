// Argo CD's verdict on an object, computed by the real lua5.1 (Debian package lua5.1, the Lua 5.1
// dialect Argo CD's gopher-lua implements) running a health script in the sandbox Argo CD gives it
// (argocd-health-harness.lua). A missing lua5.1 is an error, never a skip: scripts/build-components.sh
// installs it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEALTH_SCRIPT } from '../../scripts/argocd-health.ts';
import { repoRoot } from '../../src/dev/components.ts';

export const LUA = 'lua5.1';
const HARNESS = join(repoRoot, 'test', 'support', 'argocd-health-harness.lua');

/** Argo CD's health codes (gitops-engine pkg/health); anything else it shows as Unknown. */
export const HealthStatuses = [
  'Healthy',
  'Progressing',
  'Degraded',
  'Suspended',
  'Missing',
  'Unknown',
] as const;
export type HealthStatus = (typeof HealthStatuses)[number];

export interface Health {
  status: HealthStatus;
  message: string;
}

/** The health script as committed: config/argocd/health-agentidentity.lua. */
export function committedHealthScript(): string {
  return readFileSync(join(repoRoot, HEALTH_SCRIPT), 'utf8');
}

/** A Lua string literal for `text`: printable ASCII as is, every other byte as a decimal escape. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += printable ? String.fromCharCode(byte) : `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** A JSON value as a Lua table constructor, the shape Argo CD's decodeValue gives `obj`. */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`no Lua literal for ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`no Lua literal for a ${typeof value}`);
}

const scriptDir = mkdtempSync(join(tmpdir(), 'nhi-argocd-health-'));

function scriptFile(script: string): string {
  const path = join(scriptDir, `${createHash('sha256').update(script).digest('hex').slice(0, 16)}.lua`);
  writeFileSync(path, script);
  return path;
}

/** Runs `script` (default: the committed one) on `obj` with lua5.1, as Argo CD would. */
export function argoHealth(obj: unknown, script: string = committedHealthScript()): Promise<Health> {
  return new Promise((resolve, reject) => {
    const child = spawn(LUA, [HARNESS, scriptFile(script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${LUA} is not installed: run \`bash scripts/build-components.sh system\` (Debian package lua5.1)`,
            )
          : error,
      );
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${LUA} exited ${code}: ${stderr}`));
      const text = stdout.replace(/\n$/, '');
      const cut = text.indexOf('\n');
      const status = (cut < 0 ? text : text.slice(0, cut)) as HealthStatus;
      resolve({ status, message: cut < 0 ? '' : text.slice(cut + 1) });
    });
    child.stdin.end(`return ${toLua(obj)}\n`);
  });
}
