import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validatingAdmissionPolicy, validations, variables } from './admission-policy.ts';
import { customResourceDefinition, kinds } from './crds.ts';
import { generatedManifests, render, repositoryRoot } from './generate.ts';
import type { Schema } from './openapi.ts';
import { type Kind, schemas } from './schema.ts';

const allKinds = Object.keys(kinds) as Kind[];

interface CrdShape {
  spec: {
    scope: string;
    names: { categories: string[]; shortNames?: string[] };
    versions: Array<{
      subresources?: unknown;
      additionalPrinterColumns: Array<{ name: string; jsonPath: string }>;
    }>;
  };
}

interface PolicyShape {
  spec: {
    paramKind: unknown;
    failurePolicy: string;
    matchConstraints: { resourceRules: Array<{ operations: string[] }> };
  };
}

const crdOf = (kind: Kind) => customResourceDefinition(kind) as unknown as CrdShape;

/** Every node of a schema with its path, e.g. spec.scopes[].actions. */
function nodes(schema: Schema, path = ''): Array<{ path: string; node: Schema }> {
  const out = [{ path, node: schema }];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    out.push(...nodes(child, path === '' ? name : `${path}.${name}`));
  }
  if (schema.items) out.push(...nodes(schema.items, `${path}[]`));
  if (schema.additionalProperties) out.push(...nodes(schema.additionalProperties, `${path}{}`));
  return out;
}

describe('generated manifests', () => {
  it.each(generatedManifests().map((m) => [m.path, m] as const))('%s is up to date', (path, manifest) => {
    const committed = readFileSync(join(repositoryRoot, path), 'utf8');
    expect(committed, `${path} differs from src/api/v1alpha1: run \`npm run crds\``).toBe(render(manifest));
  });

  it('writes one CRD per kind and the two admission policies with their bindings', () => {
    expect(generatedManifests().map((m) => m.path)).toEqual([
      'crds/nhi.dev_agentidentities.yaml',
      'crds/nhi.dev_clustercredentialproviders.yaml',
      'crds/nhi.dev_identitypolicies.yaml',
      'config/admission/validating-admission-policy.yaml',
      'config/admission/validating-admission-policy-binding.yaml',
      'config/admission/controls-policy.yaml',
      'config/admission/controls-policy-binding.yaml',
      'config/admission/kustomization.yaml',
    ]);
  });

  it('drops our rule ids from the CRD: the apiserver only gets Kubernetes fields', () => {
    const text = render(generatedManifests()[0]!);
    expect(
      parse(text).spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'][0],
    ).not.toHaveProperty('id');
    expect(text).not.toMatch(/^\s+id: /m);
  });
});

describe.each(allKinds)('%s schema', (kind) => {
  const all = nodes(schemas[kind]).filter(({ path }) => path !== '' && path !== 'metadata');

  it('describes every field, for kubectl explain', () => {
    expect(all.filter(({ node }) => !node.description).map(({ path }) => path)).toEqual([]);
  });

  it('bounds every list and every free string, so CEL cost estimates pass', () => {
    const unboundedLists = all.filter(({ node }) => node.type === 'array' && node.maxItems === undefined);
    const unboundedStrings = all.filter(
      ({ node }) => node.type === 'string' && node.maxLength === undefined && node.enum === undefined,
    );
    expect([...unboundedLists, ...unboundedStrings].map(({ path }) => path)).toEqual([]);
  });

  it('gives every CEL rule a unique id and a message', () => {
    for (const { path, node } of all) {
      const rules = node['x-kubernetes-validations'] ?? [];
      expect(new Set(rules.map((r) => r.id)).size, path).toBe(rules.length);
      for (const rule of rules)
        expect(rule.message ?? rule.messageExpression, `${path} ${rule.id}`).toBeTruthy();
    }
  });

  it('is in category nhi with a status subresource where the kind has status', () => {
    const crd = crdOf(kind);
    expect(crd.spec.names.categories).toEqual(['nhi']);
    expect(crd.spec.versions[0]?.subresources !== undefined).toBe(kind !== 'IdentityPolicy');
  });
});

describe('AgentIdentity CRD', () => {
  const crd = crdOf('AgentIdentity');

  it('is namespaced with short names agentid and aid', () => {
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toEqual(['agentid', 'aid']);
  });

  it.each([
    ['OWNER', '.spec.owner.team'],
    ['ENV', '.spec.environment'],
    ['READY', '.status.conditions[?(@.type=="Ready")].status'],
    ['RISK', '.status.risk.level'],
    ['EXPIRES', '.status.expiresAt'],
    ['AGE', '.metadata.creationTimestamp'],
  ])('prints %s from %s', (name, jsonPath) => {
    const columns = crd.spec.versions[0]?.additionalPrinterColumns ?? [];
    expect(columns.find((c) => c.name.toUpperCase() === name)?.jsonPath).toBe(jsonPath);
  });

  it.each(['ClusterCredentialProvider', 'IdentityPolicy'] as const)('%s is cluster-scoped', (kind) => {
    expect(crdOf(kind).spec.scope).toBe('Cluster');
  });
});

describe('ValidatingAdmissionPolicy', () => {
  const policy = validatingAdmissionPolicy() as unknown as PolicyShape;

  it('reads IdentityPolicy as params and judges AgentIdentity CREATE and UPDATE', () => {
    expect(policy.spec.paramKind).toEqual({ apiVersion: 'nhi.dev/v1alpha1', kind: 'IdentityPolicy' });
    expect(policy.spec.matchConstraints.resourceRules[0]?.operations).toEqual(['CREATE', 'UPDATE']);
    expect(policy.spec.failurePolicy).toBe('Fail');
  });

  it.each(validations.map((v) => [v.id, v] as const))(
    '%s names its field in every message',
    (_id, validation) => {
      // spec.secrets[].rotationInterval may be printed as spec.secrets[<name>].rotationInterval
      const [head = '', ...rest] = validation.field.split('[]');
      expect(validation.messageExpression).toContain(head);
      for (const tail of rest) expect(validation.messageExpression).toContain(tail);
      expect(validation.message).toContain(validation.field);
    },
  );

  it('declares variables before they are used', () => {
    variables.forEach((variable, index) => {
      for (const later of variables.slice(index)) {
        expect(variable.expression, variable.name).not.toMatch(new RegExp(`\\bvariables\\.${later.name}\\b`));
      }
    });
  });
});
