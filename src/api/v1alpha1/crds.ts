// CustomResourceDefinitions built from the schemas in schema.ts. generate.ts writes them to crds/.

import { toKubernetesSchema } from './openapi.ts';
import { type Kind, schemas } from './schema.ts';
import { GROUP, VERSION } from './types.ts';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

interface KindNames {
  plural: string;
  singular: string;
  shortNames?: string[];
  scope: 'Namespaced' | 'Cluster';
  columns: PrinterColumn[];
}

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

const ready: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Status of the Ready condition.',
};

export const kinds: Record<Kind, KindNames> = {
  AgentIdentity: {
    plural: 'agentidentities',
    singular: 'agentidentity',
    shortNames: ['agentid', 'aid'],
    scope: 'Namespaced',
    columns: [
      {
        name: 'Owner',
        type: 'string',
        jsonPath: '.spec.owner.team',
        description: 'Team accountable for the identity.',
      },
      {
        name: 'Env',
        type: 'string',
        jsonPath: '.spec.environment',
        description: 'Environment the identity serves.',
      },
      ready,
      {
        name: 'Phase',
        type: 'string',
        jsonPath: '.status.phase',
        description: 'Summary of the conditions for humans: Pending, Active, Denied, Quarantined, Revoked.',
      },
      {
        name: 'Risk',
        type: 'string',
        jsonPath: '.status.risk.level',
        description: 'Risk level on the 5x5 matrix.',
      },
      {
        name: 'Expires',
        type: 'string',
        jsonPath: '.status.expiresAt',
        description: 'When the identity expires.',
      },
      age,
      {
        name: 'Purpose',
        type: 'string',
        jsonPath: '.spec.purpose',
        description: 'What the identity is for.',
        priority: 1,
      },
    ],
  },
  ClusterCredentialProvider: {
    plural: 'clustercredentialproviders',
    singular: 'clustercredentialprovider',
    shortNames: ['ccp'],
    scope: 'Cluster',
    columns: [
      {
        name: 'Region',
        type: 'string',
        jsonPath: '.spec.aws.region',
        description: 'AWS region, for aws providers.',
      },
      {
        name: 'Address',
        type: 'string',
        jsonPath: '.spec.vault.address',
        description: 'Vault address, for vault providers.',
      },
      ready,
      age,
    ],
  },
  IdentityPolicy: {
    plural: 'identitypolicies',
    singular: 'identitypolicy',
    shortNames: ['idpol'],
    scope: 'Cluster',
    columns: [
      {
        name: 'Prod-Max-TTL',
        type: 'string',
        jsonPath: '.spec.environments.production.maxTTL',
        description: 'Largest ttl admitted in production.',
      },
      {
        name: 'Prod-Max-Cred-TTL',
        type: 'string',
        jsonPath: '.spec.environments.production.maxCredentialTTL',
        description: 'Largest credentialTTL admitted in production.',
      },
      age,
    ],
  },
};

export function crdName(kind: Kind): string {
  return `${kinds[kind].plural}.${GROUP}`;
}

export function customResourceDefinition(kind: Kind): Record<string, unknown> {
  const names = kinds[kind];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: crdName(kind),
      labels: { 'app.kubernetes.io/name': 'nhi-operator', 'app.kubernetes.io/part-of': 'nhi-operator' },
    },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: names.plural,
        singular: names.singular,
        ...(names.shortNames ? { shortNames: names.shortNames } : {}),
        categories: ['nhi'],
      },
      scope: names.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: toKubernetesSchema(schemas[kind]) },
          ...(schemas[kind].properties?.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: names.columns,
        },
      ],
    },
  };
}
