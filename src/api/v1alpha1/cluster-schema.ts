// Schemas of the two cluster-scoped kinds a platform team owns: ClusterCredentialProvider
// (how to reach AWS or Vault/OpenBao) and IdentityPolicy (guardrails per environment).

import { Marks } from './annotations.ts';
import {
  AnomalyDefaults,
  AttestationDefaults,
  AWS_RECOVERY_WINDOW_DAYS,
  DEFAULT_ALLOWED_DATABASE_SCHEMAS,
  DEFAULT_ALLOWED_VAULT_PATHS,
  DEFAULT_DATABASE_MAX_TTL,
  DEFAULT_ENVIRONMENT,
  FORBIDDEN_DATABASE_SCHEMAS,
  FORBIDDEN_VAULT_CAPABILITIES,
  FORBIDDEN_VAULT_PATHS,
  PrivilegedGrants,
  wildcardAwsResourcesAllowedByDefault,
} from './defaults.ts';
import {
  bool,
  DNS_LABEL_PATTERN,
  dnsLabel,
  dnsSubdomain,
  duration,
  immutable,
  int,
  isDuration,
  labelSelector,
  list,
  NAMESPACE_OR_PREFIX_PATTERN,
  obj,
  oneOf,
  resource,
  type Schema,
  staysSet,
  str,
} from './openapi.ts';
import { simpleStatusSchema } from './status-schema.ts';
import { AttestationActions, ProviderKinds } from './types.ts';

const url = (description: string, scheme = 'https?') =>
  str(description, { maxLength: 2048, pattern: `^${scheme}://\\S+$` });

const mountPath = (description: string, defaultValue?: string) =>
  str(description, {
    maxLength: 128,
    pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$',
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

/**
 * The message of a transition rule on a field that decides where credentials live: the operator finds
 * what it made by names derived from these fields, so a change would strand everything made before.
 */
const fixedPlacement = (field: string, decides: string) =>
  `${field} is immutable: it decides ${decides}, and the credentials made so far would be left behind. Create a new ClusterCredentialProvider instead and name it in providerRef`;

/** Presence rule for an optional placement field: neither added nor removed once the object exists. */
const presenceFixed = (field: string, decides: string) => ({
  id: `${field}-presence-fixed`,
  rule: `has(self.${field}) == has(oldSelf.${field})`,
  message: `${field} cannot be added or removed: it decides ${decides}, and the credentials made so far would be left behind. Create a new ClusterCredentialProvider instead and name it in providerRef`,
  fieldPath: `.${field}`,
  reason: 'FieldValueForbidden' as const,
});

const AWS_ACCOUNT = 'the account the roles and secrets are created in';
const AWS_ENDPOINT = 'which AWS (or emulator) holds the roles and secrets';
const VAULT_NAMESPACE = 'the Vault namespace the policies, roles and secrets are in';

const awsProvider = obj(
  'AWS connection: IAM roles bound to ServiceAccounts (IRSA or EKS Pod Identity), STS sessions and Secrets Manager. region, accountId, endpoint, rolePath, roleNamePrefix, mode and podIdentity.clusterName decide where credentials live and are immutable.',
  {
    region: immutable(
      str('AWS region, e.g. us-east-1. Immutable.', {
        maxLength: 32,
        pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
      }),
      fixedPlacement('region', 'the region of the Secrets Manager secrets'),
    ),
    accountId: immutable(
      str('12-digit account that holds the roles. Immutable once set.', {
        maxLength: 12,
        pattern: '^[0-9]{12}$',
      }),
      fixedPlacement('accountId', AWS_ACCOUNT),
    ),
    endpoint: immutable(
      url(
        'Override of every AWS endpoint, for emulators in tests. Leave unset in real clusters. Immutable, and cannot be added or removed.',
      ),
      fixedPlacement('endpoint', AWS_ENDPOINT),
    ),
    rolePath: immutable(
      str('IAM path of the roles the operator creates. Immutable.', {
        maxLength: 512,
        pattern: '^/([A-Za-z0-9+=,.@_-]+/)*$',
        default: '/nhi/',
      }),
      fixedPlacement('rolePath', 'the IAM path of the roles'),
    ),
    roleNamePrefix: immutable(
      str('Prefix of the role names the operator creates. Immutable.', {
        maxLength: 32,
        pattern: '^[A-Za-z0-9+=,.@_-]*$',
        default: 'nhi-',
      }),
      fixedPlacement('roleNamePrefix', 'the names of the roles'),
    ),
    permissionsBoundaryArn: str(
      'Managed policy attached as permissions boundary to every role. IdentityPolicy requirePermissionsBoundary makes it mandatory for aws scopes. May change: existing roles get the new boundary.',
      { maxLength: 2048, pattern: '^arn:[a-z0-9-]+:iam::([0-9]{12}|aws):policy/\\S+$' },
    ),
    mode: immutable(
      oneOf(
        'How pods get the role: irsa (web identity) or pod-identity (EKS Pod Identity). Immutable.',
        ['irsa', 'pod-identity'],
        'irsa',
      ),
      fixedPlacement('mode', 'whether EKS Pod Identity associations are made'),
    ),
    irsa: obj(
      "IRSA: the cluster's OIDC provider in IAM, trusted by every role. May change: the roles' trust policies follow.",
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
      {
        clusterName: immutable(
          str('EKS cluster name. Immutable.', { maxLength: 100, pattern: '^[0-9A-Za-z][A-Za-z0-9_-]*$' }),
          fixedPlacement('podIdentity.clusterName', 'the cluster the pod identity associations are in'),
        ),
      },
      { required: ['clusterName'] },
    ),
    secretsManager: obj('Secrets Manager settings for aws-secrets-manager secrets.', {
      kmsKeyId: str('KMS key for new secrets. Default: the account default key.', { maxLength: 2048 }),
      recoveryWindowDays: int('Days a deleted secret stays recoverable.', {
        minimum: 7,
        maximum: 30,
        default: AWS_RECOVERY_WINDOW_DAYS,
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
      staysSet('accountId', fixedPlacement('accountId', AWS_ACCOUNT)),
      presenceFixed('endpoint', AWS_ENDPOINT),
    ],
  },
);

const vaultProvider = obj(
  'Vault or OpenBao connection: ACL policies, kubernetes-auth roles and KV v2 secrets. address, namespace, kubernetesAuthMount and kvMount decide where credentials live and are immutable.',
  {
    address: immutable(
      url('Server address, e.g. https://vault.example.com:8200. Immutable.'),
      fixedPlacement('address', 'the server the policies, roles and secrets are on'),
    ),
    caBundle: str('PEM CA bundle to verify the server. Default: system roots.', { maxLength: 65536 }),
    namespace: immutable(
      str('Vault Enterprise / OpenBao namespace. Immutable, and cannot be added or removed.', {
        maxLength: 256,
      }),
      fixedPlacement('namespace', VAULT_NAMESPACE),
    ),
    kubernetesAuthMount: immutable(
      mountPath('Mount of the kubernetes auth method the roles are created in. Immutable.', 'kubernetes'),
      fixedPlacement('kubernetesAuthMount', 'the auth mount the roles are in'),
    ),
    kvMount: immutable(
      mountPath('Mount of the KV v2 engine for vault-kv secrets. Immutable.', 'secret'),
      fixedPlacement('kvMount', 'the KV mount the secrets are in'),
    ),
    audience: str('Audience the kubernetes-auth roles require in ServiceAccount tokens.', { maxLength: 256 }),
    tokenMaxTTL: duration('Upper bound on the TTL of tokens issued to workloads.', {
      min: '1s',
      max: '8760h',
    }),
    database: obj(
      "OpenBao's database secrets engine, set up by the platform (the connection and its admin login): the operator writes one database role per identity with a database scope, never connections, and never holds the admin password. mount is immutable.",
      {
        mount: immutable(
          mountPath('Mount of the database secrets engine. Immutable.', 'database'),
          fixedPlacement('database.mount', 'the mount the database roles are in'),
        ),
        connection: str(
          'Name of the connection under <mount>/config/ the roles use. Its allowed_roles must admit nhi-*.',
          { maxLength: 128, minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
        ),
        maxTTL: duration(
          `max_ttl of every database role: no lease of an identity lives longer, renewals included. Default ${DEFAULT_DATABASE_MAX_TTL}.`,
          { min: '1s', max: '720h' },
        ),
        activity: obj(
          "Last use from pg_stat_activity: the operator reads a login of this OpenBao database role (made by the platform, a member of pg_monitor) and asks PostgreSQL for the sessions of each identity's users. Unset: last use comes from lease activity only.",
          {
            role: str(
              "A role under <mount>/roles/ whose logins may read pg_stat_activity. Not nhi-*: those roles are the operator's to write.",
              {
                maxLength: 128,
                minLength: 1,
                pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
                rules: [
                  {
                    id: 'database-activity-role-not-managed',
                    rule: "!self.startsWith('nhi-')",
                    message:
                      'activity.role: nhi-* roles are written by the operator; name the monitoring role otherwise',
                  },
                ],
              },
            ),
            url: str(
              'Where the operator connects to read pg_stat_activity, without credentials: postgresql://host:port/database?sslmode=…',
              { maxLength: 1024, minLength: 1, pattern: '^postgres(ql)?://[^@/\\s]+(/[^@\\s]*)?$' },
            ),
            caBundle: str('PEM CA bundle to verify the server with (sslmode verify-ca or verify-full).', {
              maxLength: 65536,
            }),
          },
          { required: ['role', 'url'] },
        ),
      },
      { required: ['connection'] },
    ),
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
  { required: ['address', 'auth'], rules: [presenceFixed('namespace', VAULT_NAMESPACE)] },
);

const allowedNamespaces = obj(
  'The namespaces whose AgentIdentities may use this provider: a namespace is allowed when names lists it or selector matches its labels. Unset: every namespace. Checked by the operator before anything is provisioned: an identity elsewhere gets PolicyCompliant=False naming this provider, and nothing is provisioned for it. May change at any time.',
  {
    names: list(
      'Namespace names; a trailing * matches a prefix (team-a-*).',
      str('A namespace name or prefix glob.', { maxLength: 64, pattern: NAMESPACE_OR_PREFIX_PATTERN }),
      { maxItems: 256, minItems: 1, listType: 'set' },
    ),
    selector: labelSelector(
      "Namespaces whose labels match, e.g. matchLabels {nhi.dev/tenant: team-a}. An empty selector matches every namespace. Only the platform should be able to set the labels it selects on: a namespace's own admins can usually label it.",
    ),
  },
  { minProperties: 1 },
);

export const ClusterCredentialProviderSchema: Schema = resource(
  'ClusterCredentialProvider holds the connection settings a platform team owns for one backend (AWS or Vault/OpenBao), and the namespaces that may use it. Scopes and secrets name it in providerRef; without one they use the provider named like their kind (aws, vault).',
  obj(
    'Connection settings. Set exactly one of aws, vault.',
    { aws: awsProvider, vault: vaultProvider, allowedNamespaces },
    {
      rules: [
        {
          id: 'exactly-one-backend',
          rule: 'has(self.aws) != has(self.vault)',
          message: 'a ClusterCredentialProvider configures exactly one backend: set aws or vault',
        },
        {
          id: 'backend-fixed',
          rule: 'has(self.aws) == has(oldSelf.aws)',
          message:
            'the backend of a ClusterCredentialProvider (aws or vault) is immutable: create a new ClusterCredentialProvider instead',
        },
      ],
    },
  ),
  simpleStatusSchema,
);

/** An exact value or a prefix: no wildcard but one * at the end. */
const TRAILING_STAR_PATTERN = '^[^*?]*\\*?$';

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
      allowedVaultPaths: list(
        `Vault paths vault scopes may reach: exact paths or prefixes ending in *, with {namespace} and {name} standing for the identity's. Unset: ${DEFAULT_ALLOWED_VAULT_PATHS.join(', ')}. ${FORBIDDEN_VAULT_PATHS.join(', ')} and the capability ${FORBIDDEN_VAULT_CAPABILITIES.join(', ')} are refused in every environment.`,
        str('A Vault path or prefix.', { maxLength: 512, minLength: 1, pattern: TRAILING_STAR_PATTERN }),
        { maxItems: 64, listType: 'set' },
      ),
      allowedDatabaseSchemas: list(
        `PostgreSQL schemas database scopes may reach: exact names or prefixes ending in *, with {namespace} standing for the identity's namespace with - written _. Unset: ${DEFAULT_ALLOWED_DATABASE_SCHEMAS.join(', ')}. ${FORBIDDEN_DATABASE_SCHEMAS.join(', ')} are refused in every environment.`,
        str('A schema name or prefix.', {
          maxLength: 80,
          minLength: 1,
          pattern: '^([a-z0-9_]|\\{namespace\\})+\\*?$',
        }),
        { maxItems: 64, listType: 'set' },
      ),
      allowedAwsResources: list(
        "AWS resource ARNs aws scopes may name: exact ARNs or prefixes ending in *, with {namespace} and {name} standing for the identity's. Unset: any, subject to forbiddenResources and allowWildcardAwsResources.",
        str('An ARN or ARN prefix.', { maxLength: 2048, minLength: 1, pattern: TRAILING_STAR_PATTERN }),
        { maxItems: 64, listType: 'set' },
      ),
      allowWildcardAwsResources: bool(
        `Admit AWS resources whose resource part is only a wildcard (*, arn:aws:s3:::*, arn:aws:dynamodb:us-east-1:1:table/*). Unset: ${wildcardAwsResourcesAllowedByDefault(environment) ? 'admitted' : 'refused'} in ${environment}.`,
      ),
      allowedPrivilegedGrants: list(
        "Privileged grants admitted in this environment, refused otherwise: nhi.dev (the operator's own API), rbac.authorization.k8s.io (roles and bindings), serviceaccounts/token (minting tokens), system-namespaces (identities in kube-* or the operator namespace).",
        oneOf('A privileged grant.', PrivilegedGrants),
        { maxItems: PrivilegedGrants.length, listType: 'set' },
      ),
      requireSponsor: bool(
        'spec.sponsor (the accountable person or team) must be set. The default IdentityPolicy requires it in production.',
      ),
      attestationInterval: duration(
        `How often the sponsor must attest (nhictl attest) that the identity is still needed, counted from the last attestation or the creation.${environment in AttestationDefaults ? ` Unset: ${AttestationDefaults[environment as keyof typeof AttestationDefaults].interval} in ${environment}.` : ` Unset: no attestation in ${environment}.`}`,
        { min: '1s' },
      ),
      attestationGracePeriod: duration(
        `How long past the due date before attestationAction applies.${environment in AttestationDefaults ? ` Unset: ${AttestationDefaults[environment as keyof typeof AttestationDefaults].gracePeriod}.` : ''}`,
      ),
      attestationAction: oneOf(
        'What happens past interval and grace: notify (condition AttestationDue, Event, webhook) or quarantine until attested. Unset: notify.',
        AttestationActions,
      ),
      anomalies: obj(
        'Thresholds of the activity anomalies the operator reports from the audit logs it follows (Event, audit record, status.activity.anomalies): a first-seen action or source after the baseline period, a burst of denials, use after quarantine.',
        {
          baselinePeriod: duration(
            `How long an identity's actions and source addresses are learnt before a new one is an anomaly. Unset: ${AnomalyDefaults.baselinePeriod}.`,
            { min: '1s' },
          ),
          denialBurst: int(
            `This many denied requests within denialBurstWindow are a burst. Unset: ${AnomalyDefaults.denialBurst}.`,
            { minimum: 1, maximum: 100_000 },
          ),
          denialBurstWindow: duration(`Unset: ${AnomalyDefaults.denialBurstWindow}.`, { min: '1s' }),
        },
      ),
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
      defaultEnvironment: oneOf(
        `The environment of a namespace without the label ${Marks.environment}. The platform sets that label on Namespaces; an AgentIdentity whose spec.environment differs from its namespace's is refused.`,
        ['development', 'staging', 'production'],
        DEFAULT_ENVIRONMENT,
      ),
      operatorNamespace: str('The namespace the operator runs in: no AgentIdentity may live there.', {
        maxLength: 63,
        pattern: DNS_LABEL_PATTERN,
      }),
      environments: obj(
        'Rules per environment. An AgentIdentity whose environment has no entry is rejected.',
        {
          development: environmentRules('development'),
          staging: environmentRules('staging'),
          production: environmentRules('production'),
        },
        { minProperties: 1 },
      ),
      notifications: obj('Notifications to owners and sponsors, besides Kubernetes Events.', {
        webhook: obj(
          'CloudEvents 1.0 (structured JSON) POSTed over HTTPS, signed with HMAC-SHA256 (webhook-signature header): expiry and inactivity notices, attestation due, quarantine, revocation, drift. Never a secret value.',
          {
            url: url('The receiver, an https:// URL.', 'https'),
            secretRef: obj(
              'The Secret holding the signing key. The operator reads it; its value never appears in a notification, log or status.',
              {
                name: dnsSubdomain('Secret name.'),
                namespace: dnsLabel('Secret namespace.'),
                key: str('Key in the Secret.', { maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' }),
              },
              { required: ['name', 'namespace', 'key'] },
            ),
            caBundle: str('PEM CA bundle to verify the receiver. Default: system roots.', {
              maxLength: 65536,
            }),
          },
          { required: ['url', 'secretRef'] },
        ),
      }),
    },
    { required: ['environments'] },
  ),
);
