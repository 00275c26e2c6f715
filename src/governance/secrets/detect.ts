// Finds credential-shaped literals in text, pod specs, ConfigMaps and annotations, and reports WHERE
// they are and WHICH rule matched — never the value: a finding carries the first 8 hex digits of
// the value's sha256 (enough to match the same value across places and allow-list it, useless to
// recover it).
//
// The rules are secretlint's recommended preset (`@secretlint/secretlint-rule-preset-recommend`)
// run in-process through `@secretlint/core`: a maintained, versioned rule set for AWS, GCP, GitHub,
// GitLab, Slack, Stripe, OpenAI, Anthropic, npm, SendGrid, private keys, basic-auth and database
// connection strings, used as a library (no binary to fetch), so the cluster inventory and
// `nhictl scan` before merge apply exactly the same rules. AWS access key ids are enabled
// (`enableIDScanRule`), off by default upstream.
//
// The preset has no JWT rule and no generic rule, so two small rules of our own are added here:
//   nhi/jwt                      three base64url segments whose header decodes to JSON with "alg";
//   nhi/high-entropy-under-key   a value of 16+ characters and >= 3.5 bits/character of Shannon
//                                entropy under a key-like name (password, secret, token, api key,
//                                private key, credential, ...). The name matters: a random build id
//                                under BUILD_SHA is not a credential, the same string under
//                                DB_PASSWORD is.
// Templated or referenced values (`${VAR}`, `{{ .Values.x }}`, `$(VAR)`, `secretKeyRef`) are skipped.

import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { lintSource } from '@secretlint/core';
import { secretLintProfiler } from '@secretlint/profiler';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import type { HardCodedSecret } from '../risk/factors.ts';

export interface SecretLocation {
  /** `File` for `nhictl scan`; the Kubernetes kind (`Deployment`, `ConfigMap`, ...) in the cluster. */
  kind: string;
  namespace?: string;
  /** The object's name, or the file path for `File`. */
  name: string;
  container?: string;
  /** Where in the object: `env[DB_PASSWORD]`, `args[2]`, `command[0]`, `data[key.pem]`, `metadata.annotations[x]`; empty for whole files. */
  field: string;
  file?: string;
  /** 1-based line in `file` (or in the ConfigMap value). */
  line?: number;
}

export interface SecretFinding {
  /** `aws/AWSSecretAccessKey`, `privatekey/PrivateKey`, `nhi/jwt`, `nhi/high-entropy-under-key`, ... */
  rule: string;
  location: SecretLocation;
  /** First 8 hex digits of sha256(value). Never the value. */
  fingerprint: string;
  /** `nhi.dev/owner` of the object, or `namespace/name` of the AgentIdentity bound to the workload. */
  owner?: string;
}

export interface DetectContext {
  /** A file path or a label (`Deployment ns/name env[X]`); its extension picks the parser hints. */
  source: string;
  /** Overrides the default `File` location (cluster scans pass kind, name, container, field). */
  location?: Omit<SecretLocation, 'line'>;
  /** The name the value sits under (env var name, ConfigMap key, annotation key), when known. */
  key?: string;
  /** Keep line numbers (files, multi-line values); dropped for one-line values. */
  lines?: boolean;
}

/** Rule ids of our own, with the sentence the SARIF writer and docs show. */
export const OwnRules = {
  'nhi/jwt': 'A JSON Web Token (three base64url segments, the header names an "alg").',
  'nhi/high-entropy-under-key':
    'A high-entropy value (16+ characters, >= 3.5 bits/character) under a key-like name (password, secret, token, api key, credential).',
} as const;

export const ENTROPY_THRESHOLD = 3.5;
export const ENTROPY_MIN_LENGTH = 16;

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';
const SECRETLINT_CONFIG = {
  rules: [
    {
      id: PRESET_ID,
      rule: recommendedPreset,
      rules: [{ id: '@secretlint/secretlint-rule-aws', options: { enableIDScanRule: true } }],
    },
  ],
};

/** A name that, by itself, says its value is a credential. */
export const KEY_LIKE_NAME =
  /(pass(word|wd|phrase)?|pwd|secret|token|api[-_.]?key|apikey|access[-_.]?key|private[-_.]?key|client[-_.]?secret|credential|auth[-_.]?key|signing[-_.]?key|bearer)/i;
const TEMPLATED = /\$\{|\{\{|\$\(|secretKeyRef|valueFrom|<[A-Z_-]+>/;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
/** `key: value`, `key = "value"`, `KEY=value`, `--key=value` on one line (YAML, HCL, env, args). */
const KEY_VALUE = /(?:^|[\s{,(])-{0,2}["']?([A-Za-z0-9_.\-/]*[A-Za-z0-9_])["']?\s*[:=]\s*["']?([^\s"'#,]+)/g;

export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

export function shannonEntropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function isHighEntropySecret(key: string, value: string): boolean {
  return (
    KEY_LIKE_NAME.test(key) &&
    value.length >= ENTROPY_MIN_LENGTH &&
    !TEMPLATED.test(value) &&
    shannonEntropy(value) >= ENTROPY_THRESHOLD
  );
}

interface Match {
  rule: string;
  start: number;
  end: number;
  value: string;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function overlaps(matches: Match[], start: number, end: number): boolean {
  return matches.some((m) => start < m.end && m.start < end);
}

// secretlint profiles every rule on every text by default and keeps each performance mark for the
// life of the process (about 1 MB per 50-value pod spec): the operator scans on every workload change,
// so the profiler is off (secretlint's own switch, which also drops what it collected).
secretLintProfiler.setEnabled(false);

async function presetMatches(text: string, source: string): Promise<Match[]> {
  const result = await lintSource({
    source: { content: text, filePath: source, ext: extname(source), contentType: 'text' },
    options: { config: SECRETLINT_CONFIG },
  });
  // Only ids and ranges are read: secretlint's message and data quote the value.
  return result.messages.map((m) => {
    const [start, end] = m.range;
    return {
      rule: `${m.ruleId.replace('@secretlint/secretlint-rule-', '')}/${m.messageId}`,
      start,
      end,
      value: text.slice(start, end),
    };
  });
}

function jwtMatches(text: string): Match[] {
  const out: Match[] = [];
  for (const m of text.matchAll(JWT)) {
    try {
      const header = JSON.parse(Buffer.from(m[0].split('.')[0] ?? '', 'base64url').toString('utf8'));
      if (typeof header === 'object' && header && 'alg' in header) {
        out.push({ rule: 'nhi/jwt', start: m.index, end: m.index + m[0].length, value: m[0] });
      }
    } catch {
      // not JSON: not a JWT
    }
  }
  return out;
}

/** Key-like names with high-entropy values; a YAML `value:` takes the name of the `name:` above it. */
function entropyMatches(text: string, key: string | undefined): Match[] {
  const out: Match[] = [];
  if (key !== undefined && !text.includes('\n')) {
    const value = text.trim();
    if (isHighEntropySecret(key, value)) {
      const start = text.indexOf(value);
      out.push({ rule: 'nhi/high-entropy-under-key', start, end: start + value.length, value });
      return out;
    }
  }
  let offset = 0;
  let previousName: string | undefined;
  for (const line of text.split('\n')) {
    for (const m of line.matchAll(KEY_VALUE)) {
      const name = m[1] ?? '';
      const value = m[2] ?? '';
      const effective = name === 'value' && previousName ? previousName : name;
      if (isHighEntropySecret(effective, value)) {
        const start = offset + m.index + m[0].lastIndexOf(value);
        out.push({ rule: 'nhi/high-entropy-under-key', start, end: start + value.length, value });
      }
    }
    const named = /^\s*-?\s*name:\s*["']?([^"'\s]+)/.exec(line);
    if (named) previousName = named[1];
    else if (!/^\s*value:/.test(line)) previousName = undefined;
    offset += line.length + 1;
  }
  return out;
}

/**
 * Every credential-shaped literal in `text`. Locations default to `File` at `context.source` with
 * line numbers; pass `context.location` for objects in the cluster.
 */
export async function detectSecrets(text: string, context: DetectContext): Promise<SecretFinding[]> {
  if (text.length < 8) return [];
  // A key name helps both the preset's AWS secret rule and our entropy rule: scan `key: value`.
  const prefix = context.key !== undefined && !text.includes('\n') ? `${context.key}: ` : '';
  const scanned = prefix + text;
  const matches: Match[] = [];
  for (const m of await presetMatches(scanned, context.source)) {
    if (m.start >= prefix.length)
      matches.push({ ...m, start: m.start - prefix.length, end: m.end - prefix.length });
    else if (m.end > prefix.length)
      matches.push({
        ...m,
        start: 0,
        end: m.end - prefix.length,
        value: text.slice(0, m.end - prefix.length),
      });
  }
  for (const m of [...jwtMatches(text), ...entropyMatches(text, context.key)]) {
    if (!overlaps(matches, m.start, m.end)) matches.push(m);
  }
  matches.sort((a, b) => a.start - b.start);
  const keepLines = context.lines ?? (context.location === undefined || text.includes('\n'));
  const base: Omit<SecretLocation, 'line'> = context.location ?? {
    kind: 'File',
    name: context.source,
    field: '',
    file: context.source,
  };
  return matches.map((m) => ({
    rule: m.rule,
    location: keepLines ? { ...base, line: lineOf(text, m.start) } : { ...base },
    fingerprint: fingerprint(m.value.trim()),
  }));
}

// ---- Kubernetes objects ----

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export interface ContainerLike {
  name: string;
  env?: Array<{ name: string; value?: string }>;
  args?: string[];
  command?: string[];
}

export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
}

function at(ref: ObjectRef, field: string, container?: string): Omit<SecretLocation, 'line'> {
  return {
    kind: ref.kind,
    ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
    name: ref.name,
    ...(container !== undefined ? { container } : {}),
    field,
  };
}

/**
 * How many literal values (env values, arguments, commands) of one pod spec the operator scans per
 * workload change: a tenant's pod template is the tenant's to make as large as the apiserver allows,
 * and each value costs every rule. Real pod specs hold far fewer; the rest is left to the inventory.
 */
export const OPERATOR_SCAN_MAX_VALUES = 512;

/**
 * Literal `env[].value`, `args` and `command` of every container; `valueFrom` is never a finding.
 * `maxValues` stops after that many values (in container order), for scans a tenant can trigger.
 */
export async function scanPodSpec(
  spec: PodSpecLike,
  ref: ObjectRef,
  maxValues = Number.POSITIVE_INFINITY,
): Promise<SecretFinding[]> {
  const out: SecretFinding[] = [];
  const source = `${ref.kind}/${ref.name}`;
  let budget = maxValues;
  const detect = (text: string, context: DetectContext) =>
    budget-- > 0 ? detectSecrets(text, context) : Promise.resolve([]);
  for (const c of [
    ...(spec.initContainers ?? []),
    ...(spec.containers ?? []),
    ...(spec.ephemeralContainers ?? []),
  ]) {
    for (const env of c.env ?? []) {
      if (env.value === undefined) continue;
      out.push(
        ...(await detect(env.value, {
          source,
          key: env.name,
          location: at(ref, `env[${env.name}]`, c.name),
        })),
      );
    }
    for (const field of ['command', 'args'] as const) {
      const list = c[field] ?? [];
      for (const [i, arg] of list.entries()) {
        // `--token xyz` as two arguments: the flag names the value.
        const previous = i > 0 ? list[i - 1] : undefined;
        const key =
          previous?.startsWith('-') && !previous.includes('=') ? previous.replace(/^-+/, '') : undefined;
        out.push(
          ...(await detect(arg, {
            source,
            ...(key !== undefined ? { key } : {}),
            location: at(ref, `${field}[${i}]`, c.name),
          })),
        );
      }
    }
  }
  return out;
}

/** Every `data` value of a ConfigMap, under its key; multi-line values keep the line number. */
export async function scanConfigMapData(
  data: Record<string, string> | undefined,
  ref: ObjectRef,
): Promise<SecretFinding[]> {
  const out: SecretFinding[] = [];
  for (const [key, value] of Object.entries(data ?? {})) {
    out.push(...(await detectSecrets(value, { source: key, key, location: at(ref, `data[${key}]`) })));
  }
  return out;
}

/** Annotations that repeat the object itself; scanning them would report each finding twice. */
export const SKIPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

export async function scanAnnotations(
  annotations: Record<string, string> | undefined,
  ref: ObjectRef,
): Promise<SecretFinding[]> {
  const out: SecretFinding[] = [];
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (SKIPPED_ANNOTATIONS.includes(key)) continue;
    out.push(
      ...(await detectSecrets(value, {
        source: key,
        key,
        location: at(ref, `metadata.annotations[${key}]`),
      })),
    );
  }
  return out;
}

/** `Deployment ns/name container env[X]` or `path/file.yaml:12` — for tables and messages. */
export function describeLocation(l: SecretLocation): string {
  if (l.kind === 'File') return `${l.file ?? l.name}${l.line !== undefined ? `:${l.line}` : ''}`;
  const object = `${l.kind} ${l.namespace !== undefined ? `${l.namespace}/` : ''}${l.name}`;
  const line = l.line !== undefined ? ` line ${l.line}` : '';
  return `${object}${l.container !== undefined ? ` container ${l.container}` : ''} ${l.field}${line}`;
}

/** A finding as the risk engine counts it: the rule and where in the workload (never the value). */
export function hardCodedSecretOf(finding: SecretFinding): HardCodedSecret {
  const l = finding.location;
  return {
    rule: finding.rule,
    where: `${l.container !== undefined ? `container ${l.container} ` : ''}${l.field}`,
  };
}
