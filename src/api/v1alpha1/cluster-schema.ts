// Schemas of the two cluster-scoped kinds a platform team owns: ClusterCredentialProvider
// (how to reach AWS or Vault/OpenBao) and IdentityPolicy (guardrails per environment).

import {
  bool,
  DNS_LABEL_PATTERN,
  dnsLabel,
  dnsSubdomain,
  duration,
  int,
  isDuration,
  list,
  obj,
  oneOf,
  resource,
  type Schema,
  str,
} from './openapi.ts';
import { simpleStatusSchema } from './status-schema.ts';
import { ProviderKinds } from './types.ts';

const url = (description: string, scheme = 'https?') =>
  str(description, { maxLength: 2048, pattern: `^${scheme}://\\S+$` });

const mountPath = (description: string, defaultValue?: string) =>
  str(description, {
    maxLength: 128,
    pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$',
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

const awsProvider = obj(
  'AWS connection: IAM roles bound to ServiceAccounts (IRSA or EKS Pod Identity), STS sessions and Secrets Manager.',
  {
    region: str('AWS region, e.g. us-east-1.', { maxLength: 32, pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$' }),
    accountId: str('12-digit account that holds the roles.', { maxLength: 12, pattern: '^[0-9]{12}$' }),
    endpoint: url('Override of every AWS endpoint, for emulators in tests. Leave unset in real clusters.'),
    rolePath: str('IAM path of the roles the operator creates.', {
      maxLength: 512,
      pattern: '^/([A-Za-z0-9+=,.@_-]+/)*$',
      default: '/nhi/',
    }),
    roleNamePrefix: str('Prefix of the role names the operator creates.', {
      maxLength: 32,
      pattern: '^[A-Za-z0-9+=,.@_-]*$',
      default: 'nhi-',
    }),
    permissionsBoundaryArn: str(
      'Managed policy attached as permissions boundary to every role. IdentityPolicy requirePermissionsBoundary makes it mandatory for aws scopes.',
      { maxLength: 2048, pattern: '^arn:[a-z0-9-]+:iam::([0-9]{12}|aws):policy/\\S+$' },
    ),
    mode: oneOf(
      'How pods get the role: irsa (web identity) or pod-identity (EKS Pod Identity).',
      ['irsa', 'pod-identity'],
      'irsa',
    ),
    irsa: obj(
      "IRSA: the cluster's OIDC provider in IAM, trusted by every role.",
      {
        oidcProviderArn: str('ARN of the IAM OIDC provider.', {
          maxLength: 2048,
          pattern: '^arn:[a-z0-9-]+:iam::[0-9]{12}:oidc-provider/\\S+$',
        }),
        issuer: url("The cluster's service-account token issuer URL.", 'https'),
      },
      { required: ['oidcProviderArn', 'issuer'] },
    ),
    podIdentity: obj(
      'EKS Pod Identity: the cluster the associations are made in.',
      { clusterName: str('EKS cluster name.', { maxLength: 100, pattern: '^[0-9A-Za-z][A-Za-z0-9_-]*$' }) },
      { required: ['clusterName'] },
    ),
    secretsManager: obj('Secrets Manager settings for aws-secrets-manager secrets.', {
      kmsKeyId: str('KMS key for new secrets. Default: the account default key.', { maxLength: 2048 }),
      recoveryWindowDays: int('Days a deleted secret stays recoverable.', {
        minimum: 7,
        maximum: 30,
        default: 7,
      }),
      forceDelete: bool('Delete without recovery window. Only for test environments.', false),
    }),
    maxWritesPerSecond: int('Client-side rate limit on IAM and Secrets Manager writes.', {
      minimum: 1,
      maximum: 100,
    }),
  },
  {
    required: ['region'],
    rules: [
      {
        id: 'irsa-mode-needs-irsa',
        rule: "self.mode != 'irsa' || has(self.irsa)",
        message: 'mode irsa needs irsa.oidcProviderArn and irsa.issuer',
        fieldPath: '.irsa',
        reason: 'FieldValueRequired',
      },
      {
        id: 'pod-identity-mode-needs-podIdentity',
        rule: "self.mode != 'pod-identity' || has(self.podIdentity)",
        message: 'mode pod-identity needs podIdentity.clusterName',
        fieldPath: '.podIdentity',
        reason: 'FieldValueRequired',
      },
    ],
  },
);

const vaultProvider = obj(
  'Vault or OpenBao connection: ACL policies, kubernetes-auth roles and KV v2 secrets.',
  {
    address: url('Server address, e.g. https://vault.example.com:8200.'),
    caBundle: str('PEM CA bundle to verify the server. Default: system roots.', { maxLength: 65536 }),
    namespace: str('Vault Enterprise / OpenBao namespace.', { maxLength: 256 }),
    kubernetesAuthMount: mountPath(
      'Mount of the kubernetes auth method the roles are created in.',
      'kubernetes',
    ),
    kvMount: mountPath('Mount of the KV v2 engine for vault-kv secrets.', 'secret'),
    audience: str('Audience the kubernetes-auth roles require in ServiceAccount tokens.', { maxLength: 256 }),
    tokenMaxTTL: duration('Upper bound on the TTL of tokens issued to workloads.', {
      min: '1s',
      max: '8760h',
    }),
    auth: obj(
      'How the operator itself logs in. Set exactly one of kubernetes, tokenFile, tokenSecretRef.',
      {
        kubernetes: obj(
          "Log in with the operator's own ServiceAccount token.",
          {
            role: str('Role of the operator in the auth method.', { maxLength: 256, minLength: 1 }),
            mount: mountPath('Mount of the auth method. Default: kubernetesAuthMount.'),
            tokenPath: str('Path of the projected token file.', { maxLength: 4096 }),
          },
          { required: ['role'] },
        ),
        tokenFile: obj(
          'Read a token from a file (e.g. written by a Vault agent).',
          { path: str('Path of the token file.', { maxLength: 4096, minLength: 1 }) },
          { required: ['path'] },
        ),
        tokenSecretRef: obj(
          'Development only: a token in a Kubernetes Secret.',
          {
            name: dnsSubdomain('Secret name.'),
            namespace: dnsLabel('Secret namespace.'),
            key: str('Key in the Secret.', { maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' }),
          },
          { required: ['name', 'namespace', 'key'] },
        ),
      },
      {
        rules: [
          {
            id: 'exactly-one-vault-auth',
            rule: '[has(self.kubernetes), has(self.tokenFile), has(self.tokenSecretRef)].filter(x, x).size() == 1',
            message: 'set exactly one of kubernetes, tokenFile, tokenSecretRef',
          },
        ],
      },
    ),
  },
  { required: ['address', 'auth'] },
);

export const ClusterCredentialProviderSchema: Schema = resource(
  'ClusterCredentialProvider holds the connection settings a platform team owns for one backend (AWS or Vault/OpenBao). Scopes and secrets name it in providerRef.',
  obj(
    'Connection settings. Set exactly one of aws, vault.',
    { aws: awsProvider, vault: vaultProvider },
    {
      rules: [
        {
          id: 'exactly-one-backend',
          rule: 'has(self.aws) != has(self.vault)',
          message: 'a ClusterCredentialProvider configures exactly one backend: set aws or vault',
        },
      ],
    },
  ),
  simpleStatusSchema,
);

const risk = ['Low', 'Moderate', 'High', 'Critical'] as const;

const environmentRules = (environment: string) =>
  obj(
    `Guardrails for AgentIdentities with environment ${environment}. Unset fields impose no limit.`,
    {
      maxTTL: duration('Largest spec.ttl admitted.', { min: '1s' }),
      maxCredentialTTL: duration('Largest spec.credentialTTL admitted.', { min: '1s' }),
      maxRotationInterval: duration('Largest spec.secrets[].rotationInterval admitted.', { min: '1s' }),
      forbiddenActions: list(
        'Actions no scope may grant, matched literally (AWS actions case-insensitively): AWS actions, Kubernetes verbs, Vault capabilities. List the wildcard form to forbid it, e.g. iam:*.',
        str('An action, verb or capability.', { maxLength: 128, minLength: 1 }),
        { maxItems: 64, listType: 'set' },
      ),
      forbiddenResources: list(
        'Resources no scope may name, matched literally: AWS resource ARNs, Kubernetes resources, Vault paths.',
        str('A resource, e.g. *.', { maxLength: 2048, minLength: 1 }),
        { maxItems: 64, listType: 'set' },
      ),
      requirePermissionsBoundary: bool(
        'aws scopes must use a ClusterCredentialProvider that sets permissionsBoundaryArn. Checked by the operator (PolicyCompliant), which can see the provider.',
      ),
      allowedProviders: list(
        'Providers scopes and secret backends may use. Unset: all.',
        oneOf('A provider.', ProviderKinds),
        {
          maxItems: 3,
          listType: 'set',
        },
      ),
      allowedNamespaces: list(
        'Namespaces AgentIdentities may live in. A trailing * matches a prefix (team-*). Unset: all.',
        str('A namespace name or prefix glob.', {
          maxLength: 64,
          pattern: `${DNS_LABEL_PATTERN}|^[a-z0-9][-a-z0-9]*\\*$|^\\*$`,
        }),
        { maxItems: 256, listType: 'set' },
      ),
      maxRiskLevel: oneOf('Highest risk level the operator provisions. Checked by the operator.', risk),
    },
    {
      rules: [
        {
          id: 'credential-ttl-within-ttl',
          rule: `!has(self.maxTTL) || !has(self.maxCredentialTTL) || !${isDuration('self.maxTTL')} || !${isDuration('self.maxCredentialTTL')} || duration(self.maxCredentialTTL) <= duration(self.maxTTL)`,
          messageExpression:
            "'maxCredentialTTL ' + self.maxCredentialTTL + ' must not exceed maxTTL ' + self.maxTTL",
          fieldPath: '.maxCredentialTTL',
        },
      ],
    },
  );

export const IdentityPolicySchema: Schema = resource(
  'IdentityPolicy sets guardrails per environment for every AgentIdentity. The one named default is enforced at admission by the ValidatingAdmissionPolicy nhi-identity-policy, and again by the operator.',
  obj(
    'Guardrails per environment.',
    {
      environments: obj(
        'Rules per environment. An AgentIdentity whose environment has no entry is rejected.',
        {
          development: environmentRules('development'),
          staging: environmentRules('staging'),
          production: environmentRules('production'),
        },
        { minProperties: 1 },
      ),
    },
    { required: ['environments'] },
  ),
);
