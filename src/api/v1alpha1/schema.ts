// OpenAPI v3 structural schemas for nhi.dev/v1alpha1, with the CEL rules the apiserver enforces.
// ONE source of truth: crds/*.yaml is generated from these objects (npm run crds), and
// `nhictl lint` validates manifests against these same objects offline (src/policies/).
// Every list has maxItems and every string in a rule has maxLength, so CEL cost estimates pass.

import { ClusterCredentialProviderSchema, IdentityPolicySchema } from './cluster-schema.ts';
import {
  DATABASE_IDENTIFIER_PATTERN,
  DEFAULT_DATABASE_CONNECTION_LIMIT,
  DEFAULT_DATABASE_MAX_LEASES,
  FORBIDDEN_DATABASE_SCHEMAS,
  MAX_DATABASE_CONNECTION_LIMIT,
  MAX_DATABASE_MAX_LEASES,
  MAX_DEFAULT_OVERLAP,
  RestartableWorkloadKinds,
  SpecDefaults,
} from './defaults.ts';
import {
  bool,
  DNS_LABEL_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
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
import { agentIdentityStatusSchema } from './status-schema.ts';
import {
  DatabasePrivileges,
  DataClassifications,
  DeletionPolicies,
  Environments,
  GeneratorTypes,
  ManagementModes,
  ProviderKinds,
  SecretBackends,
} from './types.ts';

export { ClusterCredentialProviderSchema, IdentityPolicySchema };

const providerRef = dnsSubdomain(
  'Name of the ClusterCredentialProvider to use. Defaults to the provider named after the backend kind (aws or vault).',
);

const awsActions = list(
  'IAM actions this scope may call, e.g. secretsmanager:GetSecretValue. aws scopes only. Name each action: wildcards are forbidden in production and by IdentityPolicy.',
  str('An IAM action: service prefix, colon, action name (wildcards * and ? allowed by IAM).', {
    maxLength: 128,
    pattern: '^(\\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+|\\*:\\*)$',
  }),
  { maxItems: 64, minItems: 1, listType: 'set' },
);

const awsResources = list(
  'ARNs the actions apply to. aws scopes only.',
  str('An ARN such as arn:aws:s3:::bucket/key, or * (forbidden in production).', {
    maxLength: 2048,
    pattern: '^(\\*|arn:[a-z0-9-]+:[a-z0-9-]+:[^:\\s]*:[^:\\s]*:\\S+)$',
  }),
  { maxItems: 64, minItems: 1, listType: 'set' },
);

const vaultPaths = list(
  'Vault/OpenBao policy paths and the capabilities granted on each. vault scopes only.',
  obj(
    'One path stanza of the generated ACL policy.',
    {
      path: str('The policy path, e.g. secret/data/crm/*. Globs follow Vault policy syntax.', {
        maxLength: 512,
        minLength: 1,
        pattern: '^[^\\s"]+$',
      }),
      capabilities: list(
        'Capabilities granted on the path.',
        oneOf('A Vault capability.', [
          'create',
          'read',
          'update',
          'patch',
          'delete',
          'list',
          'sudo',
          'deny',
          'subscribe',
        ]),
        { maxItems: 9, minItems: 1, listType: 'set' },
      ),
    },
    { required: ['path', 'capabilities'] },
  ),
  { maxItems: 32, minItems: 1 },
);

const identifier = (description: string) =>
  str(`${description} Lowercase letters, digits and _, starting with a letter or _, at most 63.`, {
    maxLength: 63,
    minLength: 1,
    pattern: DATABASE_IDENTIFIER_PATTERN,
  });

const databaseAccess = obj(
  "Short-lived PostgreSQL logins through OpenBao's database secrets engine (the provider's database connection): the operator renders these grants into the role's creation and revocation statements. vault scopes only.",
  {
    grants: list(
      'Privileges on tables of schemas the identity may reach (IdentityPolicy allowedDatabaseSchemas; default the schema named after the namespace, - written _).',
      obj(
        'Privileges on the named tables of one schema, or on all its tables.',
        {
          schema: identifier('The schema.'),
          tables: list('Tables of the schema.', identifier('A table.'), {
            maxItems: 64,
            minItems: 1,
            listType: 'set',
          }),
          allTables: bool('Every table in the schema when the login is made.'),
          privileges: list('Privileges on those tables.', oneOf('A table privilege.', DatabasePrivileges), {
            maxItems: 4,
            minItems: 1,
            listType: 'set',
          }),
        },
        {
          required: ['schema', 'privileges'],
          rules: [
            {
              id: 'database-grant-names-tables',
              rule: 'has(self.tables) != (has(self.allTables) && self.allTables)',
              message: 'name the tables, or set allTables: true (one of them)',
              fieldPath: '.tables',
              reason: 'FieldValueRequired',
            },
            {
              id: 'database-schema-not-catalog',
              rule: FORBIDDEN_DATABASE_SCHEMAS.map((f) =>
                f.endsWith('*') ? `!self.schema.startsWith('${f.slice(0, -1)}')` : `self.schema != '${f}'`,
              ).join(' && '),
              message: `schema: ${FORBIDDEN_DATABASE_SCHEMAS.join(', ')} (PostgreSQL's catalogs, and the schema every tenant shares) are refused in every environment`,
              fieldPath: '.schema',
              reason: 'FieldValueForbidden',
            },
          ],
        },
      ),
      { maxItems: 32, minItems: 1 },
    ),
    readOnly: bool(
      'Read-only sessions (default_transaction_read_only), e.g. for retrieval and vector search. Only SELECT grants.',
    ),
    connectionLimit: int(
      `CONNECTION LIMIT of each login: PostgreSQL refuses its sessions beyond it. Default ${DEFAULT_DATABASE_CONNECTION_LIMIT}.`,
      { minimum: 1, maximum: MAX_DATABASE_CONNECTION_LIMIT },
    ),
    maxLeases: int(
      `Logins the identity may hold at once: a new one is refused while this many exist. Default ${DEFAULT_DATABASE_MAX_LEASES}.`,
      { minimum: 1, maximum: MAX_DATABASE_MAX_LEASES },
    ),
    target: obj(
      'A Secret in the identity namespace the operator keeps filled with a login (username, password), for applications that cannot talk to Vault. Renewed at two thirds of its lease; the previous login stays (username.previous, password.previous) until its lease ends.',
      { secretName: dnsSubdomain('Name of the Secret in the identity namespace.') },
      { required: ['secretName'] },
    ),
  },
  {
    required: ['grants'],
    rules: [
      {
        id: 'database-read-only-selects',
        rule: "!has(self.readOnly) || !self.readOnly || self.grants.all(g, g.privileges.all(p, p == 'SELECT'))",
        message: 'readOnly sessions take only SELECT grants',
        fieldPath: '.grants',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

const kubernetesVerbs = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'use',
  'bind',
  'escalate',
  'impersonate',
  'approve',
  'sign',
  '*',
] as const;

const kubernetesRules = list(
  'RBAC rules of the Role bound to the managed ServiceAccount, in its own namespace. kubernetes scopes only.',
  obj(
    'One RBAC PolicyRule.',
    {
      apiGroups: list('API groups; "" is the core group.', str('An API group name.', { maxLength: 253 }), {
        maxItems: 16,
        minItems: 1,
        listType: 'atomic',
      }),
      resources: list(
        'Resources, e.g. configmaps or pods/log.',
        str('A resource name.', { maxLength: 253 }),
        {
          maxItems: 32,
          minItems: 1,
          listType: 'atomic',
        },
      ),
      resourceNames: list(
        'Optional allow-list of object names.',
        str('An object name.', { maxLength: 253 }),
        { maxItems: 64, listType: 'atomic' },
      ),
      verbs: list('Verbs allowed on the resources.', oneOf('A Kubernetes API verb.', kubernetesVerbs), {
        maxItems: 16,
        minItems: 1,
        listType: 'atomic',
      }),
    },
    { required: ['apiGroups', 'resources', 'verbs'] },
  ),
  { maxItems: 32, minItems: 1 },
);

function needs(provider: string, field: string, what: string) {
  return {
    id: `${provider}-scope-needs-${field}`,
    rule: `self.provider != '${provider}' || has(self.${field})`,
    message: `${provider === 'aws' ? 'an' : 'a'} ${provider} scope needs ${field}: ${what}`,
    fieldPath: `.${field}`,
    reason: 'FieldValueRequired' as const,
  };
}

function onlyFor(provider: string, field: string) {
  return {
    id: `${field}-only-for-${provider}`,
    rule: `self.provider == '${provider}' || !has(self.${field})`,
    messageExpression: `'${field} belong to ${provider} scopes; this scope is ' + self.provider`,
    fieldPath: `.${field}`,
    reason: 'FieldValueForbidden' as const,
  };
}

const scopeSchema = obj(
  'One least-privilege grant. provider selects the backend and which fields apply: aws needs actions and resources, vault needs paths, kubernetes needs rules.',
  {
    provider: oneOf('Backend that enforces this grant.', ProviderKinds, 'kubernetes'),
    providerRef,
    actions: awsActions,
    resources: awsResources,
    paths: vaultPaths,
    database: databaseAccess,
    rules: kubernetesRules,
  },
  {
    rules: [
      needs('aws', 'actions', 'the IAM actions it may call'),
      needs('aws', 'resources', 'the ARNs its actions apply to'),
      {
        id: 'vault-scope-needs-paths',
        rule: "self.provider != 'vault' || has(self.paths) || has(self.database)",
        message:
          'a vault scope needs paths: the policy paths and capabilities it grants (or database: the database logins it gets)',
        fieldPath: '.paths',
        reason: 'FieldValueRequired',
      },
      needs('kubernetes', 'rules', 'the RBAC rules it grants'),
      onlyFor('aws', 'actions'),
      onlyFor('aws', 'resources'),
      onlyFor('vault', 'paths'),
      onlyFor('vault', 'database'),
      onlyFor('kubernetes', 'rules'),
      {
        id: 'kubernetes-scope-has-no-providerRef',
        rule: "self.provider != 'kubernetes' || !has(self.providerRef)",
        message: 'kubernetes scopes are granted in this cluster and take no providerRef',
        fieldPath: '.providerRef',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

const secretSchema = obj(
  'A secret this identity owns; the operator generates and rotates it with a zero-downtime overlap.',
  {
    name: dnsLabel('Name of the secret, unique within the identity.'),
    backend: oneOf('Where the value is stored.', SecretBackends, 'kubernetes'),
    providerRef,
    generator: obj(
      'How a new value is made.',
      {
        type: oneOf(
          'random: printable characters; ed25519: a key pair; hmac: random key bytes.',
          GeneratorTypes,
        ),
        length: int('Length in characters (random) or bytes (hmac). Not used by ed25519.', {
          minimum: 16,
          maximum: 4096,
        }),
      },
      {
        required: ['type'],
        rules: [
          {
            id: 'ed25519-has-no-length',
            rule: "self.type != 'ed25519' || !has(self.length)",
            message: 'ed25519 keys have a fixed size: remove length',
            fieldPath: '.length',
            reason: 'FieldValueForbidden',
          },
        ],
      },
    ),
    rotationInterval: duration('How often the value is rotated.', {
      default: SpecDefaults.rotationInterval,
      min: '1s',
      max: '8760h',
    }),
    overlap: duration(
      `How long the previous value stays valid after a rotation. Default: half the rotation interval, at most ${MAX_DEFAULT_OVERLAP}.`,
      { max: '720h' },
    ),
    target: obj(
      'The Kubernetes Secret the pods mount. Required for the kubernetes backend; optional sync target for the others.',
      {
        secretName: dnsSubdomain('Name of the Secret in the identity namespace.'),
        key: str("Data key of the current value in the Secret. Default: the secret's name.", {
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
        }),
      },
      { required: ['secretName'] },
    ),
    restartWorkload: bool(
      `Roll the pods of spec.workloadRef (a Deployment, StatefulSet or DaemonSet) after this secret rotates, as kubectl rollout restart does; once per rotation, never while quarantined.`,
      SpecDefaults.restartWorkload,
    ),
  },
  {
    required: ['name', 'generator'],
    rules: [
      {
        id: 'kubernetes-secret-needs-target',
        rule: "self.backend != 'kubernetes' || has(self.target)",
        message: 'a secret with backend kubernetes needs target.secretName: the Secret the pods mount',
        fieldPath: '.target',
        reason: 'FieldValueRequired',
      },
      {
        id: 'kubernetes-secret-has-no-providerRef',
        rule: "self.backend != 'kubernetes' || !has(self.providerRef)",
        message: 'secrets with backend kubernetes live in this cluster and take no providerRef',
        fieldPath: '.providerRef',
        reason: 'FieldValueForbidden',
      },
      {
        id: 'overlap-shorter-than-rotation',
        rule: `!has(self.overlap) || !has(self.rotationInterval) || !${isDuration('self.overlap')} || !${isDuration('self.rotationInterval')} || duration(self.overlap) < duration(self.rotationInterval)`,
        messageExpression:
          "'overlap ' + self.overlap + ' must be shorter than rotationInterval ' + self.rotationInterval",
        fieldPath: '.overlap',
      },
    ],
  },
);

const placeholderTeams = ['none', 'unknown', 'tbd', 'todo', 'n-a', 'na', 'nobody', 'test', 'changeme'];

const agentIdentitySpec = obj(
  'Desired state of a workload-bound non-human identity: who owns it, what it is for, what it may do, and how long it and its credentials live.',
  {
    owner: obj(
      'The team accountable for this identity. Notified before expiry; named in inventory, audit and risk reports.',
      {
        team: str('Team name, a DNS label such as support-eng. Not a placeholder.', {
          maxLength: 63,
          minLength: 2,
          pattern: DNS_LABEL_PATTERN,
          rules: [
            {
              id: 'team-not-placeholder',
              rule: `!(self in [${placeholderTeams.map((t) => `'${t}'`).join(', ')}])`,
              messageExpression:
                "'owner team ' + self + ' is a placeholder: name the team that answers for this identity'",
            },
          ],
        }),
        contact: str('How to reach the owner: an email address, chat channel or URL.', { maxLength: 254 }),
      },
      { required: ['team'] },
    ),
    sponsor: obj(
      'The accountable person or team (not only the team that runs it): attests on schedule that the identity is still needed (nhictl attest). Required in production by the default IdentityPolicy.',
      {
        name: str('A person or team name.', { maxLength: 253, minLength: 2 }),
        contact: str('How to reach the sponsor: an email address, chat channel or URL.', { maxLength: 254 }),
      },
      { required: ['name'] },
    ),
    purpose: str('What the identity is for, in human words (at least 10 characters). Shown to auditors.', {
      maxLength: 1024,
      rules: [
        {
          id: 'purpose-not-trivial',
          rule: 'self.trim().size() >= 10',
          message: 'must say what the identity is for in at least 10 characters (whitespace does not count)',
        },
      ],
    }),
    environment: oneOf(
      'Environment the identity serves; selects the IdentityPolicy rules that apply.',
      Environments,
    ),
    workloadRef: obj(
      'The workload that runs as this identity. When it is gone for orphanGracePeriod the credentials are revoked.',
      {
        apiVersion: str('API version of the workload, e.g. apps/v1.', {
          maxLength: 253,
          pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$',
        }),
        kind: str('Kind of the workload, e.g. Deployment, StatefulSet, CronJob.', {
          maxLength: 63,
          pattern: '^[A-Z][A-Za-z0-9]*$',
        }),
        name: dnsSubdomain('Name of the workload in the identity namespace.'),
      },
      { required: ['apiVersion', 'kind', 'name'] },
    ),
    serviceAccountName: str(
      'Name of the ServiceAccount the operator manages for the workload. Default: the identity name.',
      {
        maxLength: 253,
        pattern: DNS_SUBDOMAIN_PATTERN,
        rules: [
          {
            id: 'not-default-service-account',
            rule: "self != 'default'",
            message: "the namespace's default ServiceAccount is shared by every pod: name a dedicated one",
          },
        ],
      },
    ),
    automountServiceAccountToken: bool(
      'automountServiceAccountToken of the managed ServiceAccount. Default false: pods that need the token opt in themselves.',
      false,
    ),
    ttl: duration('Lifetime of the identity itself; then it expires and is revoked.', {
      default: SpecDefaults.ttl,
      min: '1s',
      max: '8760h',
    }),
    credentialTTL: duration('Lifetime of each minted credential (STS session, Vault token). At most ttl.', {
      default: SpecDefaults.credentialTTL,
      min: '1s',
      max: '12h',
    }),
    inactivityTimeout: duration('Expire the identity when it has not been used for this long.', {
      default: SpecDefaults.inactivityTimeout,
      min: '1s',
      max: '8760h',
    }),
    orphanGracePeriod: duration('How long the workload may be missing before the credentials are revoked.', {
      default: SpecDefaults.orphanGracePeriod,
      max: '720h',
    }),
    quarantinePeriod: duration(
      'How long revoked credentials stay disabled but recoverable (phase 1) before they are deleted (phase 2).',
      { default: SpecDefaults.quarantinePeriod, max: '2160h' },
    ),
    scopes: list('Least-privilege grants, one list across providers.', scopeSchema, { maxItems: 32 }),
    secrets: list('Secrets this identity owns and the operator rotates.', secretSchema, {
      maxItems: 16,
      listType: 'map',
      mapKeys: ['name'],
    }),
    impact: obj('What a compromise would touch; feeds the risk score.', {
      dataClassification: oneOf('Most sensitive data reachable.', DataClassifications, 'internal'),
      internetExposed: bool('Whether the workload accepts traffic from the internet.', false),
    }),
    locked: bool('Set by nhictl lock: quarantine now, whatever the workload does (kill switch).'),
    deletionPolicy: oneOf(
      'What deleting this AgentIdentity does to its credentials. Delete: revoke them everywhere (offboarding). Retain: leave the ServiceAccount, Secrets and cloud and Vault credentials in place, marked nhi.dev/retained, for a human to remove.',
      DeletionPolicies,
      SpecDefaults.deletionPolicy,
    ),
    management: oneOf(
      'Managed: the operator provisions, rotates and revokes credentials. Observe: it only records and reports the existing objects in spec.observe (adopted with nhictl adopt) and never creates, changes or deletes anything; switching to Managed provisions new, marked objects and leaves the observed ones as they are.',
      ManagementModes,
      SpecDefaults.management,
    ),
    observe: obj(
      'Observe mode: the existing, unmanaged objects this identity reports on. Never changed or deleted.',
      {
        serviceAccountName: dnsSubdomain('A ServiceAccount in the identity namespace.'),
        iamRoleName: str(
          'An IAM role; reported only when its trust policy admits ServiceAccounts of this namespace alone.',
          { maxLength: 64, pattern: '^[\\w+=,.@-]+$' },
        ),
        vaultRoleName: str(
          'A Vault kubernetes-auth role; reported only when its bound namespaces are exactly this namespace.',
          { maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' },
        ),
        providerRef: dnsSubdomain(
          'The ClusterCredentialProvider the roles are read through (its allowedNamespaces apply). Default: the one named aws or vault.',
        ),
      },
      { required: ['serviceAccountName'] },
    ),
  },
  {
    required: ['owner', 'purpose', 'environment'],
    rules: [
      {
        id: 'observe-needs-observe-mode',
        rule: "!has(self.observe) || (has(self.management) && self.management == 'Observe')",
        message:
          'spec.observe is only for spec.management: Observe (set management: Observe, or remove observe)',
        fieldPath: '.observe',
        reason: 'FieldValueForbidden',
      },
      {
        id: 'observe-mode-needs-observe',
        rule: "!has(self.management) || self.management != 'Observe' || has(self.observe)",
        message:
          'spec.management: Observe needs spec.observe.serviceAccountName (the ServiceAccount observed)',
        fieldPath: '.management',
        reason: 'FieldValueRequired',
      },
      {
        id: 'ttl-covers-credentialTTL',
        rule: `!has(self.ttl) || !has(self.credentialTTL) || !${isDuration('self.ttl')} || !${isDuration('self.credentialTTL')} || duration(self.credentialTTL) <= duration(self.ttl)`,
        messageExpression:
          "'ttl ' + self.ttl + ' must be at least credentialTTL ' + self.credentialTTL + ': a credential cannot outlive its identity'",
        fieldPath: '.ttl',
      },
      {
        id: 'restart-needs-rollable-workload',
        rule: `!has(self.secrets) || !self.secrets.exists(s, has(s.restartWorkload) && s.restartWorkload) || (has(self.workloadRef) && self.workloadRef.apiVersion == 'apps/v1' && self.workloadRef.kind in [${RestartableWorkloadKinds.map((k) => `'${k}'`).join(', ')}])`,
        message: `secrets[].restartWorkload needs spec.workloadRef naming an apps/v1 ${RestartableWorkloadKinds.join(', ')}`,
        fieldPath: '.workloadRef',
        reason: 'FieldValueInvalid',
      },
      {
        id: 'database-one-target',
        rule: '!has(self.scopes) || self.scopes.filter(s, has(s.database) && has(s.database.target)).size() <= 1',
        message:
          'scopes[].database.target: one database target Secret per identity (its logins all come from one role)',
        fieldPath: '.scopes',
        reason: 'FieldValueInvalid',
      },
      {
        id: 'database-target-not-a-secret-target',
        rule: '!has(self.scopes) || !has(self.secrets) || self.scopes.all(s, !has(s.database) || !has(s.database.target) || self.secrets.all(t, !has(t.target) || t.target.secretName != s.database.target.secretName))',
        message: 'scopes[].database.target.secretName: already the target of a spec.secrets entry',
        fieldPath: '.scopes',
        reason: 'FieldValueInvalid',
      },
      {
        id: 'production-no-wildcard-actions',
        rule:
          "self.environment != 'production' || !has(self.scopes) || self.scopes.all(s, " +
          "(!has(s.actions) || s.actions.all(a, a != '*' && a != '*:*')) && " +
          "(!has(s.rules) || s.rules.all(r, !('*' in r.verbs))))",
        message:
          "production scopes must name their actions: '*' and '*:*' actions and '*' verbs are forbidden",
        fieldPath: '.scopes',
        reason: 'FieldValueForbidden',
      },
      {
        id: 'production-no-wildcard-resources',
        rule:
          "self.environment != 'production' || !has(self.scopes) || self.scopes.all(s, " +
          "(!has(s.resources) || !('*' in s.resources)) && " +
          "(!has(s.paths) || s.paths.all(p, p.path != '*')) && " +
          "(!has(s.rules) || s.rules.all(r, !('*' in r.resources) && !('*' in r.apiGroups))))",
        message:
          "production scopes must name their resources: '*' resources, paths and API groups are forbidden",
        fieldPath: '.scopes',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

export const AgentIdentitySchema: Schema = resource(
  'AgentIdentity gives one AI agent or service its own workload-bound non-human identity: declared in Git, least-privilege, short-lived, rotated, audited, and revoked when the workload is gone.',
  agentIdentitySpec,
  agentIdentityStatusSchema,
  [
    {
      id: 'name-is-dns-label',
      rule: "!has(self.metadata.name) || (self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",
      // No fieldPath: the apiserver accepts none into metadata, so the message names the field.
      message:
        'metadata.name must be a DNS label (at most 63 lowercase letters, digits and -): it is used as a label value and in provider names',
    },
  ],
);

export type Kind = 'AgentIdentity' | 'ClusterCredentialProvider' | 'IdentityPolicy';

export const schemas: Record<Kind, Schema> = {
  AgentIdentity: AgentIdentitySchema,
  ClusterCredentialProvider: ClusterCredentialProviderSchema,
  IdentityPolicy: IdentityPolicySchema,
};
