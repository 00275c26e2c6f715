import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { badAgentIdentities } from '../../test/fixtures/bad-agentidentities.ts';
import { awsScope } from '../../test/fixtures/scopes-and-secrets.ts';
import { repositoryRoot } from '../api/v1alpha1/generate.ts';
import { describe as describeViolation } from '../policies/violation.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withScopes,
  withSpec,
} from '../testing/agent-identity.ts';
import { formatText, lintFiles, lintSources } from './lint.ts';

const yaml = (...objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');
const source = (text: string, name = 'input.yaml') => ({ name, text });

const strictPolicy = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'IdentityPolicy',
  metadata: { name: 'default' },
  spec: { environments: { production: { maxTTL: '24h' } } },
};

describe('lintSources', () => {
  it('gives every bad AgentIdentity of the shared table a violation naming its field', () => {
    const report = lintSources([source(yaml(...badAgentIdentities.map((b) => b.identity)))]);
    expect(report.documents).toHaveLength(badAgentIdentities.length);
    report.documents.forEach((document, index) => {
      const text = document.violations.map((v) => `${v.field}: ${v.message}`).join('\n');
      expect(text, badAgentIdentities[index]!.case).toContain(badAgentIdentities[index]!.field);
    });
    // Every CEL rule of the CRD and the admission policy over the whole table: seconds on a loaded machine.
  }, 30_000);

  it('reads every document of a multi-document file and skips kinds it does not know', () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bot' } };
    const report = lintSources([source(`# comment\n${yaml(agentIdentity('bot'), deployment)}`)]);
    expect(report.documents.map((d) => [d.line, d.kind, d.skipped])).toEqual([
      [2, 'AgentIdentity', undefined],
      [expect.any(Number), 'Deployment', 'not an nhi.dev object'],
    ]);
    expect(report.violations).toBe(0);
  });

  it('checks each item of a List, as kubectl get -o yaml prints them', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [agentIdentity('a'), agentIdentity('b', withSpec({ purpose: 'x' }))],
    };
    const report = lintSources([source(yaml(list))]);
    expect(report.documents.map((d) => [d.name, d.violations.length])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
  });

  it('reports YAML syntax errors as violations', () => {
    const report = lintSources([source('apiVersion: nhi.dev/v1alpha1\nkind: [unclosed\n')]);
    expect(report.documents[0]!.violations[0]).toMatchObject({ rule: 'yaml' });
  });

  it('uses the shipped default IdentityPolicy when none is given', () => {
    const report = lintSources([source(yaml(agentIdentity('bot', withSpec({ ttl: '4000h' }))))]);
    expect(report.policy).toMatch(
      /^IdentityPolicy default from .*config\/policies\/default-identitypolicy\.yaml$/,
    );
    expect(report.documents[0]!.violations.map((v) => v.rule)).toEqual(['policy:ttl-within-maxTTL']);
  });

  it('prefers an IdentityPolicy named default among the inputs, as the cluster would', () => {
    const report = lintSources([source(yaml(strictPolicy, agentIdentity('bot', withSpec({ ttl: '48h' }))))]);
    expect(report.policy).toBe('IdentityPolicy default from the inputs');
    expect(report.documents[1]!.violations[0]!.message).toContain('exceeds maxTTL 24h');
  });

  it('prefers --policy over everything, and lints the policy file too', () => {
    const report = lintSources(
      [source(yaml(agentIdentity('bot', withSpec({ ttl: '48h' }))))],
      source(yaml(strictPolicy), 'policy.yaml'),
    );
    expect(report.policy).toBe('IdentityPolicy default from policy.yaml');
    expect(report.documents.map((d) => [d.file, d.kind, d.violations.length])).toEqual([
      ['policy.yaml', 'IdentityPolicy', 0],
      ['input.yaml', 'AgentIdentity', 1],
    ]);
  });

  it('checks the permissions boundary when providers are among the inputs', () => {
    const provider = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: 'aws' },
      spec: { aws: { region: 'us-east-1', mode: 'pod-identity', podIdentity: { clusterName: 'c' } } },
    };
    const identity = agentIdentity('bot', withScopes(awsScope()));
    expect(lintSources([source(yaml(identity))]).notes).toEqual(
      expect.arrayContaining([expect.stringContaining('requirePermissionsBoundary not checked')]),
    );
    const report = lintSources([source(yaml(provider, identity))]);
    expect(report.documents[1]!.violations).toEqual([
      expect.objectContaining({
        field: 'spec.scopes[0].providerRef',
        rule: 'operator:permissions-boundary-required',
      }),
    ]);
  });

  it('formats one line per document and one per violation', () => {
    const report = lintSources([
      source(yaml(agentIdentity('bot', inNamespace(undefined), withSpec({ purpose: 'bot' })))),
    ]);
    expect(formatText(report)).toMatch(
      /^input\.yaml:1 AgentIdentity bot: 1 violation\n {2}spec\.purpose: must say what the identity is for .*\[cel:purpose-not-trivial\]\n(note: .*\n)*1 object checked against IdentityPolicy default from .*: 1 violation\n$/,
    );
  });
});

describe('the namespace environment', () => {
  const development = agentIdentity('bot', inEnvironment('development'));

  it('assumes each namespace carries the identity environment unless told, and says so', () => {
    const report = lintSources([source(yaml(development))]);
    expect(report.violations).toBe(0);
    expect(report.notes).toEqual(
      expect.arrayContaining([
        expect.stringContaining('pass --namespace-environment'),
        expect.stringContaining('requester-holds-kubernetes-grants'),
      ]),
    );
  });

  it('refuses an identity whose environment differs from the namespace it goes to, naming both', () => {
    const report = lintSources([source(yaml(development))], undefined, {
      namespaceEnvironment: 'production',
    });
    expect(report.documents[0]!.violations.map(describeViolation)).toEqual([
      expect.stringMatching(
        /spec\.environment development differs from the environment of namespace agents, production/,
      ),
    ]);
    expect(report.notes).toEqual(
      expect.arrayContaining([expect.stringContaining('nhi.dev/environment=production')]),
    );
  });
});

describe('nhictl lint', () => {
  const nhictl = (...args: string[]) =>
    spawnSync(process.execPath, [join(repositoryRoot, 'bin/nhictl.js'), 'lint', ...args], {
      cwd: repositoryRoot,
      encoding: 'utf8',
    });

  it('passes the shipped samples and the default policy', () => {
    const files = ['support-bot.yaml', 'crm-sync.yaml', 'clustercredentialproviders.yaml'].map(
      (f) => `config/samples/${f}`,
    );
    expect(lintFiles([...files, 'config/policies/default-identitypolicy.yaml']).violations).toBe(0);
  });

  it('exits 1 with field-named JSON on violations, 0 when clean, 2 on unreadable input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhictl-lint-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, yaml(agentIdentity('bot', withSpec({ credentialTTL: '2h' }))));
    const failed = nhictl('--output', 'json', bad);
    expect(failed.status, failed.stderr).toBe(1);
    expect(JSON.parse(failed.stdout).documents[0].violations).toEqual([
      expect.objectContaining({
        field: 'spec.credentialTTL',
        message: expect.stringContaining('maxCredentialTTL 1h'),
      }),
    ]);
    expect(nhictl('config/samples/support-bot.yaml').status).toBe(0);
    expect(nhictl(join(dir, 'missing.yaml')).status).toBe(2);
  }, 60_000); // three CLI processes through tsx: seconds each on a busy 2-core machine
});
