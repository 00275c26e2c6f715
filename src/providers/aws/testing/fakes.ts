// In-memory fakes of the AWS ports for unit tests, with AWS's semantics where the provider depends
// on them (AWSCURRENT/AWSPREVIOUS moves, DeleteConflict while policies remain, EntityAlreadyExists),
// a call log for request-shape assertions, and `crashAfterWrites` to simulate a crash between calls.

import type { AwsProviderSpec } from '../../../api/v1alpha1/types.ts';
import { parsePolicyDocument } from '../adapter-iam.ts';
import {
  AlreadyExistsError,
  type CreateRoleInput,
  type EksPort,
  type IamPort,
  type LiveRole,
  type PodIdentityAssociation,
  type SecretDescription,
  type SecretsManagerPort,
  type Tags,
} from '../port.ts';
import { AwsProvider, type AwsProviderDeps } from '../provider.ts';
import { irsaSpec } from './fixtures.ts';

export interface Call {
  method: string;
  args: unknown[];
}

interface FakeRole {
  input: CreateRoleInput;
  arn: string;
  trust: string;
  tags: Tags;
  inline: Map<string, string>;
  attached: Set<string>;
  lastUsed?: Date;
}

export class FakeIam implements IamPort {
  readonly roles = new Map<string, FakeRole>();
  readonly calls: Call[] = [];

  private log(method: string, ...args: unknown[]) {
    this.calls.push({ method, args });
  }

  private need(name: string): FakeRole {
    const role = this.roles.get(name);
    if (!role) throw Object.assign(new Error(`role ${name} not found`), { name: 'NoSuchEntityException' });
    return role;
  }

  async getRole(name: string): Promise<LiveRole | undefined> {
    const r = this.roles.get(name);
    if (!r) return undefined;
    const live: LiveRole = {
      name,
      arn: r.arn,
      path: r.input.path,
      trustPolicy: parsePolicyDocument(r.trust),
      maxSessionDuration: r.input.maxSessionDuration,
    };
    if (r.input.boundaryArn) live.boundaryArn = r.input.boundaryArn;
    if (r.lastUsed) live.lastUsed = r.lastUsed;
    return live;
  }
  async listRoleTags(name: string) {
    const r = this.roles.get(name);
    return r ? { ...r.tags } : undefined;
  }
  async createRole(input: CreateRoleInput): Promise<LiveRole> {
    this.log('createRole', input);
    if (this.roles.has(input.name)) throw new AlreadyExistsError(`role ${input.name} exists`);
    const arn = `arn:aws:iam::123456789012:role${input.path}${input.name}`;
    this.roles.set(input.name, {
      input: { ...input },
      arn,
      trust: input.trustPolicy,
      tags: { ...input.tags },
      inline: new Map(),
      attached: new Set(),
    });
    return (await this.getRole(input.name))!;
  }
  async updateRole(name: string, u: { maxSessionDuration: number; description: string }) {
    this.log('updateRole', name, u);
    const r = this.need(name);
    r.input = { ...r.input, maxSessionDuration: u.maxSessionDuration, description: u.description };
  }
  async updateAssumeRolePolicy(name: string, document: string) {
    this.log('updateAssumeRolePolicy', name, document);
    this.need(name).trust = document;
  }
  async tagRole(name: string, tags: Tags) {
    this.log('tagRole', name, tags);
    Object.assign(this.need(name).tags, tags);
  }
  async putRolePermissionsBoundary(name: string, arn: string) {
    this.log('putRolePermissionsBoundary', name, arn);
    const r = this.need(name);
    r.input = { ...r.input, boundaryArn: arn };
  }
  async deleteRolePermissionsBoundary(name: string) {
    this.log('deleteRolePermissionsBoundary', name);
    const r = this.roles.get(name);
    if (!r?.input.boundaryArn) return false;
    const { boundaryArn: _, ...rest } = r.input;
    r.input = rest;
    return true;
  }
  async listRolePolicies(name: string) {
    return [...(this.roles.get(name)?.inline.keys() ?? [])];
  }
  async getRolePolicy(name: string, policyName: string) {
    const doc = this.roles.get(name)?.inline.get(policyName);
    return doc === undefined ? undefined : parsePolicyDocument(encodeURIComponent(doc));
  }
  async putRolePolicy(name: string, policyName: string, document: string) {
    this.log('putRolePolicy', name, policyName, document);
    this.need(name).inline.set(policyName, document);
  }
  async deleteRolePolicy(name: string, policyName: string) {
    this.log('deleteRolePolicy', name, policyName);
    return this.roles.get(name)?.inline.delete(policyName) ?? false;
  }
  async listAttachedRolePolicies(name: string) {
    return [...(this.roles.get(name)?.attached ?? [])];
  }
  async detachRolePolicy(name: string, arn: string) {
    this.log('detachRolePolicy', name, arn);
    return this.roles.get(name)?.attached.delete(arn) ?? false;
  }
  async deleteRole(name: string) {
    this.log('deleteRole', name);
    const r = this.roles.get(name);
    if (!r) return false;
    if (r.inline.size > 0 || r.attached.size > 0) {
      throw new Error('DeleteConflict: must delete policies first');
    }
    return this.roles.delete(name);
  }

  writes(): string[] {
    return this.calls.map((c) => c.method);
  }
}

interface FakeVersion {
  value: string;
  stages: string[];
  createdAt: Date;
}

interface FakeSecret {
  arn: string;
  tags: Tags;
  versions: Map<string, FakeVersion>;
  deletedDate?: Date;
  lastAccessed?: Date;
  kmsKeyId?: string;
}

export class FakeSecretsManager implements SecretsManagerPort {
  readonly secrets = new Map<string, FakeSecret>();
  readonly calls: Call[] = [];

  private need(id: string): FakeSecret {
    const s = this.secrets.get(id);
    if (!s) throw Object.assign(new Error(`secret ${id} not found`), { name: 'ResourceNotFoundException' });
    return s;
  }

  async describeSecret(id: string): Promise<SecretDescription | undefined> {
    const s = this.secrets.get(id);
    if (!s) return undefined;
    const versions = Object.fromEntries([...s.versions].map(([vid, v]) => [vid, [...v.stages]]));
    const d: SecretDescription = { name: id, arn: s.arn, tags: { ...s.tags }, versions };
    if (s.deletedDate) d.deletedDate = s.deletedDate;
    if (s.lastAccessed) d.lastAccessed = s.lastAccessed;
    return d;
  }
  async listSecretsByTagKey(tagKey: string) {
    return [...this.secrets]
      .filter(([, s]) => tagKey in s.tags && !s.deletedDate)
      .map(([name, s]) => ({ name, tags: { ...s.tags } }));
  }
  async createSecret(input: Parameters<SecretsManagerPort['createSecret']>[0]) {
    this.calls.push({ method: 'createSecret', args: [{ ...input, value: '<redacted>' }] });
    if (this.secrets.has(input.name)) throw new AlreadyExistsError(`secret ${input.name} exists`);
    const arn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${input.name}-AbCdEf`;
    const versions = new Map([
      [input.versionId, { value: input.value, stages: ['AWSCURRENT'], createdAt: new Date() }],
    ]);
    const secret: FakeSecret = { arn, tags: { ...input.tags }, versions };
    if (input.kmsKeyId) secret.kmsKeyId = input.kmsKeyId;
    this.secrets.set(input.name, secret);
    return { arn, versionId: input.versionId };
  }
  async putSecretValue(input: { id: string; value: string; versionId: string; stages: string[] }) {
    this.calls.push({ method: 'putSecretValue', args: [{ ...input, value: '<redacted>' }] });
    const s = this.need(input.id);
    if (s.versions.has(input.versionId)) return;
    for (const stage of input.stages)
      for (const v of s.versions.values()) v.stages = v.stages.filter((x) => x !== stage);
    s.versions.set(input.versionId, { value: input.value, stages: [...input.stages], createdAt: new Date() });
  }
  async updateSecretVersionStage(input: { id: string; stage: string; moveTo?: string; removeFrom?: string }) {
    this.calls.push({ method: 'updateSecretVersionStage', args: [input] });
    const s = this.need(input.id);
    const holder = [...s.versions].find(([, v]) => v.stages.includes(input.stage))?.[0];
    if (input.stage === 'AWSCURRENT' && holder && holder !== input.moveTo && input.removeFrom !== holder) {
      throw new Error('InvalidParameterException: RemoveFromVersionId must name the AWSCURRENT version');
    }
    if (input.removeFrom) {
      const v = s.versions.get(input.removeFrom);
      if (!v?.stages.includes(input.stage)) {
        throw new Error('InvalidParameterException: stage not on version');
      }
      v.stages = v.stages.filter((x) => x !== input.stage);
    }
    if (input.moveTo) {
      for (const v of s.versions.values()) v.stages = v.stages.filter((x) => x !== input.stage);
      s.versions.get(input.moveTo)?.stages.push(input.stage);
    }
    if (input.stage === 'AWSCURRENT' && input.removeFrom && input.moveTo) {
      for (const v of s.versions.values()) v.stages = v.stages.filter((x) => x !== 'AWSPREVIOUS');
      s.versions.get(input.removeFrom)?.stages.push('AWSPREVIOUS');
    }
  }
  async getSecretValue(id: string, versionId: string) {
    const v = this.secrets.get(id)?.versions.get(versionId);
    return v ? { versionId, value: v.value, createdAt: v.createdAt } : undefined;
  }
  async tagResource(id: string, tags: Tags) {
    this.calls.push({ method: 'tagResource', args: [id, tags] });
    Object.assign(this.need(id).tags, tags);
  }
  async restoreSecret(id: string) {
    this.calls.push({ method: 'restoreSecret', args: [id] });
    delete this.need(id).deletedDate;
  }
  async deleteSecret(id: string, options: { recoveryWindowDays: number } | { force: true }) {
    this.calls.push({ method: 'deleteSecret', args: [id, options] });
    const s = this.secrets.get(id);
    if (!s) return false;
    if ('force' in options) this.secrets.delete(id);
    else s.deletedDate = new Date();
    return true;
  }

  /** Current value, as a consumer reading AWSCURRENT would see it. */
  current(id: string): string | undefined {
    return [...(this.secrets.get(id)?.versions.values() ?? [])].find((v) => v.stages.includes('AWSCURRENT'))
      ?.value;
  }

  stageMap(id: string): Record<string, string[]> {
    return Object.fromEntries([...(this.secrets.get(id)?.versions ?? [])].map(([k, v]) => [k, v.stages]));
  }
}

export class FakeEks implements EksPort {
  readonly associations = new Map<string, PodIdentityAssociation & { key: string }>();
  readonly calls: Call[] = [];
  private next = 1;

  async findPodIdentityAssociation(clusterName: string, namespace: string, serviceAccount: string) {
    const a = this.associations.get(`${clusterName}/${namespace}/${serviceAccount}`);
    return a ? { associationId: a.associationId, roleArn: a.roleArn, tags: { ...a.tags } } : undefined;
  }
  async createPodIdentityAssociation(input: Parameters<EksPort['createPodIdentityAssociation']>[0]) {
    this.calls.push({ method: 'createPodIdentityAssociation', args: [input] });
    const key = `${input.clusterName}/${input.namespace}/${input.serviceAccount}`;
    if (this.associations.has(key)) throw new AlreadyExistsError('ResourceInUseException');
    const a = { key, associationId: `a-${this.next++}`, roleArn: input.roleArn, tags: { ...input.tags } };
    this.associations.set(key, a);
    return { associationId: a.associationId, roleArn: a.roleArn, tags: a.tags };
  }
  async updatePodIdentityAssociation(clusterName: string, associationId: string, roleArn: string) {
    this.calls.push({ method: 'updatePodIdentityAssociation', args: [clusterName, associationId, roleArn] });
    for (const a of this.associations.values()) if (a.associationId === associationId) a.roleArn = roleArn;
  }
  async deletePodIdentityAssociation(clusterName: string, associationId: string) {
    this.calls.push({ method: 'deletePodIdentityAssociation', args: [clusterName, associationId] });
    for (const [key, a] of this.associations)
      if (a.associationId === associationId) return this.associations.delete(key);
    return false;
  }
}

/** Simulated process death at the `n`-th write call (1-based) of the listed methods. */
export class SimulatedCrash extends Error {}

/**
 * `port` whose `n`-th write throws SimulatedCrash, and every later write too (the process is gone).
 * With `lostResponse` the `n`-th write reaches the backend first: the call landed, its answer did not.
 */
export function crashAfterWrites<T extends object>(
  port: T,
  writes: ReadonlyArray<keyof T>,
  n: number,
  options: { lostResponse?: boolean } = {},
): T {
  let count = 0;
  const watched = new Set<PropertyKey>(writes);
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (!watched.has(property)) return method.bind(target);
      return async (...args: unknown[]) => {
        count++;
        if (count < n) return method.apply(target, args);
        if (count === n && options.lostResponse) await method.apply(target, args);
        throw new SimulatedCrash(`simulated crash at write ${count} (${String(property)})`);
      };
    },
  });
}

/** A clock whose timers fire at once (and record the waits), for the write limiter. */
export function instantClock(start = Date.parse('2025-06-01T12:00:00Z')) {
  const waits: number[] = [];
  let now = start;
  return {
    waits,
    now: () => now,
    setTimer(fn: () => void, ms: number) {
      waits.push(ms);
      now += ms;
      fn();
      return () => {};
    },
  };
}

/** An AwsProvider over fresh fakes, IRSA mode unless `spec` says otherwise; values are value-1, value-2 ... */
export function fakeAwsProvider(spec: Partial<AwsProviderSpec> = {}, deps: Partial<AwsProviderDeps> = {}) {
  const iam = new FakeIam();
  const sm = new FakeSecretsManager();
  const eks = new FakeEks();
  const clock = instantClock();
  let n = 0;
  const provider = AwsProvider.fromSpec(
    { aws: irsaSpec(spec) },
    { iam, secretsManager: sm, eks, clock, generate: () => `value-${++n}`, ...deps },
  );
  return { iam, sm, eks, clock, provider };
}
