import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import { agentIdentity, withWorkload } from '../../testing/agent-identity.ts';
import {
  AdoptError,
  type AdoptTarget,
  adoptedEnvVar,
  adoptedSecretSpec,
  adoptionOrigin,
  defaultKey,
  identityOfWorkload,
  type LiteralLocation,
  literalOf,
  newIdentity,
  parseWorkloadArg,
  secretNameFromEnv,
  withAdoptedSecret,
  workloadPatch,
} from './adopt.ts';

const literal = randomBytes(24).toString('base64url');
const target: AdoptTarget = {
  secretName: 'api-token',
  targetSecret: 'bot-api',
  key: 'API_TOKEN',
  rotationInterval: '168h',
};

const container = (env: object[]) => ({ name: 'agent', image: 'x', env });
const podTemplate = (env: object[], list: 'containers' | 'initContainers' = 'containers') => ({
  template: { spec: { [list]: [container(env)] } },
});
const deploymentWith = (env: object[], list?: 'containers' | 'initContainers') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'bot', namespace: 'agents' },
  spec: podTemplate(env, list),
});
const at = (kind: LiteralLocation['kind'] = 'Deployment'): LiteralLocation => ({
  kind,
  namespace: 'agents',
  name: 'bot',
  container: 'agent',
  field: { env: 'API_TOKEN' },
});

describe('literalOf', () => {
  it('returns the literal value of the named env var', () => {
    expect(literalOf(deploymentWith([{ name: 'API_TOKEN', value: literal }]), at())).toBe(literal);
  });

  it('finds init containers and CronJob templates', () => {
    expect(literalOf(deploymentWith([{ name: 'API_TOKEN', value: literal }], 'initContainers'), at())).toBe(
      literal,
    );
    const cronJob = {
      kind: 'CronJob',
      spec: { jobTemplate: { spec: podTemplate([{ name: 'API_TOKEN', value: literal }]) } },
    };
    expect(literalOf(cronJob, at('CronJob'))).toBe(literal);
  });

  it.each([
    [
      'a missing container',
      { ...at(), container: 'other' },
      [{ name: 'API_TOKEN', value: literal }],
      'ContainerNotFound',
    ],
    ['a missing env var', at(), [{ name: 'OTHER', value: literal }], 'EnvNotFound'],
    [
      'a reference',
      at(),
      [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
      'NotLiteral',
    ],
    ['an empty value', at(), [{ name: 'API_TOKEN', value: '' }], 'NotLiteral'],
  ])('refuses %s, naming the field and never the value', (_, location, env, reason) => {
    const attempt = () => literalOf(deploymentWith(env), location);
    expect(attempt).toThrow(AdoptError);
    try {
      attempt();
    } catch (error) {
      expect((error as AdoptError).reason).toBe(reason);
      expect((error as Error).message).not.toContain(literal);
    }
  });
});

describe('workloadPatch', () => {
  it('is a strategic-merge patch that removes the literal and references the Secret key', () => {
    const { type, patch } = workloadPatch(
      deploymentWith([{ name: 'API_TOKEN', value: literal }]),
      at(),
      target,
    );
    expect(type).toBe('strategic');
    expect(patch).toEqual({
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'agent',
                env: [
                  {
                    name: 'API_TOKEN',
                    value: null,
                    valueFrom: { secretKeyRef: { name: 'bot-api', key: 'API_TOKEN' } },
                  },
                ],
              },
            ],
          },
        },
      },
    });
    expect(JSON.stringify(patch)).not.toContain(literal);
  });

  it('reaches the pod template of a CronJob and an init container', () => {
    const cronJob = {
      kind: 'CronJob',
      spec: { jobTemplate: { spec: podTemplate([{ name: 'API_TOKEN', value: literal }], 'initContainers') } },
    };
    const patch = workloadPatch(cronJob, at('CronJob'), target).patch as {
      spec: { jobTemplate: { spec: { template: { spec: { initContainers: unknown[] } } } } };
    };
    expect(patch.spec.jobTemplate.spec.template.spec.initContainers).toHaveLength(1);
  });
});

describe('an argument holding the literal (--arg, --command)', () => {
  const withArgs = (args: string[], env?: object[]) => ({
    kind: 'Deployment',
    spec: { template: { spec: { containers: [{ name: 'sidecar' }, { name: 'agent', args, env }] } } },
  });
  const argAt = (index: number, list: 'args' | 'command' = 'args'): LiteralLocation => ({
    ...at(),
    field: { list, index },
  });
  const argTarget: AdoptTarget = { ...target, key: 'API_TOKEN' };

  it.each([
    ['--flag=VALUE: the value after the first =', ['serve', `--api-token=${literal}`], 1, 'API_TOKEN'],
    ['a whole argument after its flag', ['--api-token', literal], 1, 'API_TOKEN'],
    ['a positional argument', ['serve', literal], 1, 'ARGS_1'],
  ])('takes %s, and names the key after the flag, never the value', (_, args, index, key) => {
    const workload = withArgs(args);
    expect(literalOf(workload, argAt(index))).toBe(literal);
    expect(defaultKey(workload, argAt(index))).toBe(key);
  });

  it.each([
    [
      'a shell line',
      ['-c', `curl -H "Authorization: Bearer ${literal}" https://x`],
      1,
      'NotLiteral',
      /shell line/,
    ],
    ['an argument already referencing an env var', ['--token=$(TOKEN)'], 0, 'NotLiteral', /\$\(VAR\)/],
    ['an index past the end', ['serve'], 3, 'ArgNotFound', /no such argument/],
  ])('refuses %s, naming the field and never the value', (_, args, index, reason, message) => {
    try {
      literalOf(withArgs(args), argAt(index));
      expect.unreachable();
    } catch (error) {
      expect((error as AdoptError).reason).toBe(reason);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(`args[${index}]`);
      expect((error as Error).message).not.toContain(literal);
    }
  });

  it('is a JSON patch replacing that one argument with $(NHI_ADOPTED_KEY), read from the Secret key', () => {
    const workload = withArgs(
      ['serve', `--api-token=${literal}`, '--verbose'],
      [{ name: 'LOG', value: 'x' }],
    );
    const { type, patch } = workloadPatch(workload, argAt(1), argTarget, '42');
    expect(type).toBe('json');
    const base = '/spec/template/spec/containers/1';
    expect(patch).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'test', path: `${base}/name`, value: 'agent' },
      { op: 'replace', path: `${base}/args/1`, value: '--api-token=$(NHI_ADOPTED_API_TOKEN)' },
      {
        op: 'add',
        path: `${base}/env/-`,
        value: {
          name: 'NHI_ADOPTED_API_TOKEN',
          valueFrom: { secretKeyRef: { name: 'bot-api', key: 'API_TOKEN' } },
        },
      },
    ]);
    // The other arguments (which may hold other literals) are not repeated.
    expect(JSON.stringify(patch)).not.toContain(literal);
    expect(JSON.stringify(patch)).not.toContain('--verbose');
  });

  it('creates the env list of a container without one, and patches command the same way', () => {
    const workload = {
      kind: 'Deployment',
      spec: { template: { spec: { containers: [{ name: 'agent', command: ['run', literal] }] } } },
    };
    const { patch } = workloadPatch(workload, argAt(1, 'command'), argTarget);
    expect(patch).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'agent' },
      {
        op: 'replace',
        path: '/spec/template/spec/containers/0/command/1',
        value: '$(NHI_ADOPTED_API_TOKEN)',
      },
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/env',
        value: [
          {
            name: adoptedEnvVar(argTarget),
            valueFrom: { secretKeyRef: { name: 'bot-api', key: 'API_TOKEN' } },
          },
        ],
      },
    ]);
  });

  it('refuses when the container already has the env var it would add', () => {
    const workload = withArgs([literal], [{ name: 'NHI_ADOPTED_API_TOKEN', value: 'x' }]);
    expect(() => workloadPatch(workload, argAt(0), argTarget)).toThrow(
      /already has an env var NHI_ADOPTED_API_TOKEN/,
    );
  });

  it('marks the target Secret with where the literal was and who adopted it, never the value', () => {
    expect(adoptionOrigin(argAt(1), 'alice')).toBe('Deployment/agents/bot container agent args[1] by alice');
    expect(adoptionOrigin(at(), 'alice')).toBe(
      'Deployment/agents/bot container agent env[API_TOKEN] by alice',
    );
  });
});

describe('the managed secret entry', () => {
  it('is a kubernetes-backed secret with the target Secret, key and rotation interval', () => {
    expect(adoptedSecretSpec(target)).toEqual({
      name: 'api-token',
      backend: 'kubernetes',
      generator: { type: 'random', length: 32 },
      rotationInterval: '168h',
      target: { secretName: 'bot-api', key: 'API_TOKEN' },
    });
  });

  it('asks for the workload to be rolled after each rotation only with --restart-workload', () => {
    expect(adoptedSecretSpec({ ...target, restartWorkload: true }).restartWorkload).toBe(true);
    expect('restartWorkload' in adoptedSecretSpec(target)).toBe(false);
  });

  it('is added to spec.secrets, replacing an entry of the same name', () => {
    const other: SecretSpec = { name: 'other', generator: { type: 'random' } };
    const entry = adoptedSecretSpec(target);
    expect(withAdoptedSecret([other, { ...entry, rotationInterval: '1h' }], entry)).toEqual([other, entry]);
  });

  it('refuses a target Secret another entry already writes', () => {
    const clash: SecretSpec = {
      name: 'other',
      generator: { type: 'random' },
      target: { secretName: 'bot-api' },
    };
    expect(() => withAdoptedSecret([clash], adoptedSecretSpec(target))).toThrow(
      /already writes Secret bot-api/,
    );
  });

  it.each([
    ['DB_PASSWORD', 'db-password'],
    ['__X__', 'x'],
    ['_', 'adopted'],
  ])('is named after the env var: %s -> %s', (env, name) => {
    expect(secretNameFromEnv(env)).toBe(name);
  });
});

describe('the identity', () => {
  it('is the one whose workloadRef names the workload', () => {
    const bound = agentIdentity(
      'bound',
      withWorkload({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' }),
    );
    const other = agentIdentity(
      'other',
      withWorkload({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' }),
    );
    expect(identityOfWorkload([other, bound], at())?.metadata.name).toBe('bound');
  });

  it('is new with owner and purpose from the workload annotations and environment from the namespace', () => {
    const identity = newIdentity({
      name: 'bot',
      namespace: 'agents',
      at: at(),
      workloadAnnotations: { [Marks.owner]: 'team-a', [Marks.purpose]: 'answers tickets' },
      namespaceLabels: { [Marks.environment]: 'staging' },
    });
    expect(identity.spec).toEqual({
      owner: { team: 'team-a' },
      purpose: 'answers tickets',
      environment: 'staging',
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' },
    });
  });

  it('takes the sponsor from --sponsor, else the workload annotation nhi.dev/sponsor', () => {
    const base = {
      name: 'bot',
      namespace: 'agents',
      at: at(),
      namespaceLabels: {},
      owner: 'team-a',
      purpose: 'p',
    };
    const annotated = { ...base, workloadAnnotations: { [Marks.sponsor]: 'head-of-support' } };
    expect(newIdentity(annotated).spec.sponsor).toEqual({ name: 'head-of-support' });
    expect(newIdentity({ ...annotated, sponsor: 'cto' }).spec.sponsor).toEqual({ name: 'cto' });
    expect(newIdentity({ ...base, workloadAnnotations: {} }).spec.sponsor).toBeUndefined();
  });

  it('is production in an unlabelled namespace and needs --owner and --purpose without annotations', () => {
    const base = { name: 'bot', namespace: 'agents', at: at(), workloadAnnotations: {}, namespaceLabels: {} };
    expect(() => newIdentity(base)).toThrow(/--owner .* and --purpose/);
    expect(newIdentity({ ...base, owner: 'team-a', purpose: 'p' }).spec.environment).toBe('production');
  });
});

describe('parseWorkloadArg', () => {
  it.each([
    ['deployment/bot', 'Deployment'],
    ['StatefulSet/bot', 'StatefulSet'],
    ['cronjob/bot', 'CronJob'],
  ])('%s', (arg, kind) => {
    expect(parseWorkloadArg(arg)).toEqual({ kind, name: 'bot' });
  });

  it.each(['pod/bot', 'bot', 'deployment/', 'service/bot'])('refuses %s', (arg) => {
    expect(() => parseWorkloadArg(arg)).toThrow(AdoptError);
  });

  it.each([
    [
      'configmap/settings',
      /move it by hand.*configMapKeyRef -> secretKeyRef.*remove the key from the ConfigMap/,
    ],
    ['job/once', /adopt the CronJob that creates it/],
    ['pod/bare', /cannot be changed once it is created/],
  ])('refuses %s saying how to migrate it by hand', (arg, message) => {
    expect(() => parseWorkloadArg(arg)).toThrow(message);
  });
});
