// fast-check arbitraries for the three nhi.dev kinds: objects that are mostly well formed, with every
// field drawn from a pool of good values and of the mistakes people and tools make (wrong types,
// bad durations, wildcards, forbidden actions, paths outside the tenant, unknown fields, values at
// and past the limits), so that a good share is admitted and every rule gets exercised.
// `{ns}` in a value stands for the namespace the object goes to; `withNamespace` fills it in.

import fc from 'fast-check';

const junk = fc.oneof(
  fc.constant(''),
  fc.constant(null),
  fc.integer({ min: -5, max: 100_000 }),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.constant(['a']),
  fc.constant({ nested: true }),
);

/**
 * Half the objects are drawn clean (good values only); in the other half each field is a good value
 * most of the time and a mistake otherwise. Every builder below reads this flag while it is built.
 */
let noisy = false;

/** A good value, or (in a noisy object) now and then a mistake. */
function mostly<T>(good: fc.Arbitrary<T>, ...bad: Array<fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  if (!noisy || bad.length === 0) return good;
  return fc.oneof({ arbitrary: good, weight: 8 }, ...bad.map((arbitrary) => ({ arbitrary, weight: 1 })));
}

const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });

function build() {
  const dnsLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/);
  const name = mostly(
    dnsLabel,
    fc.constantFrom('Bad_Name', 'UPPER', '-lead', 'trail-', 'a'.repeat(64), 'dots.in.it', ''),
  );
  const duration = mostly(
    fc.constantFrom('5m', '10m', '15m'),
    fc.constantFrom('-1h', '1y', 'abc', '0', '0s', '999999h', '1h30', '12', ' 1h', '8761h'),
    junk,
  );
  const environment = mostly(
    fc.constantFrom('development', 'staging', 'production'),
    fc.constantFrom('prod', 'dev', 'Production', ''),
    junk,
  );

  const awsAction = mostly(
    fc.constantFrom('s3:GetObject', 'secretsmanager:GetSecretValue', 'dynamodb:Query', 'sqs:SendMessage'),
    fc.constantFrom(
      '*',
      '*:*',
      'iam:*',
      'iam:CreateUser',
      'sts:AssumeRole',
      'sts:AssumeRoot',
      's3:*',
      'not an action',
      '',
    ),
  );
  const awsResource = mostly(
    fc.constantFrom(
      'arn:aws:s3:::reports/{ns}/*',
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*',
      'arn:aws:dynamodb:us-east-1:123456789012:table/orders',
    ),
    fc.constantFrom(
      'arn:aws:s3:::reports/*',
      'arn:aws:s3:::*',
      '*',
      'arn:aws:iam::123456789012:role/admin',
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:nhi/*',
      'not-an-arn',
      '',
    ),
  );
  const vaultPath = mostly(
    fc.constantFrom('secret/data/{ns}/docs/*', 'secret/data/{ns}/db', 'secret/metadata/{ns}/*'),
    fc.constantFrom(
      'secret/data/*',
      'secret/data/other-team/*',
      'sys/policies/acl/*',
      'auth/token/create',
      'identity/*',
      '*',
      'secret/data/{ns}/*/x',
      '',
    ),
  );
  const capability = fc.constantFrom(
    'read',
    'list',
    'create',
    'update',
    'delete',
    'sudo',
    'deny',
    'root',
    'READ',
  );
  const rule = fc.record(
    {
      apiGroups: mostly(
        fc.subarray(['', 'apps', 'batch'], { minLength: 1 }),
        fc.subarray(['', 'nhi.dev', 'rbac.authorization.k8s.io', '*']),
        junk,
      ),
      resources: mostly(
        fc.subarray(['configmaps', 'pods', 'deployments', 'jobs'], { minLength: 1 }),
        fc.subarray(['secrets', 'serviceaccounts/token', 'roles', '*'], { minLength: 1 }),
        junk,
      ),
      verbs: mostly(
        fc.subarray(['get', 'list', 'watch'], { minLength: 1 }),
        fc.subarray(['create', 'delete', 'escalate', 'bind', 'impersonate', '*'], { minLength: 1 }),
        junk,
      ),
      resourceNames: optional(fc.subarray(['one', 'two'])),
    },
    { requiredKeys: ['apiGroups', 'resources', 'verbs'] },
  );

  const scope = fc.oneof(
    fc.record(
      {
        provider: fc.constant('kubernetes'),
        rules: mostly(fc.array(rule, { minLength: 1, maxLength: 3 }), junk),
      },
      { requiredKeys: ['provider'] },
    ),
    fc.record(
      {
        provider: fc.constant('aws'),
        actions: mostly(fc.array(awsAction, { minLength: 1, maxLength: 4 }), junk),
        resources: mostly(fc.array(awsResource, { minLength: 1, maxLength: 3 }), junk),
        providerRef: optional(fc.constantFrom('aws', 'missing-provider')),
      },
      { requiredKeys: ['provider'] },
    ),
    fc.record(
      {
        provider: fc.constant('vault'),
        paths: mostly(
          fc.array(
            fc.record({
              path: vaultPath,
              capabilities: fc.array(capability, { minLength: 1, maxLength: 3 }),
            }),
            { minLength: 1, maxLength: 3 },
          ),
          junk,
        ),
        providerRef: optional(fc.constantFrom('vault', 'missing-provider')),
      },
      { requiredKeys: ['provider'] },
    ),
    ...(noisy ? [fc.record({ provider: fc.constantFrom('gcp', '', 'AWS') }), junk] : []),
  );

  const secret = fc.record(
    {
      name: name,
      backend: optional(
        mostly(fc.constantFrom('kubernetes', 'vault-kv', 'aws-secrets-manager'), fc.constant('gcp')),
      ),
      generator: mostly(
        fc.record(
          {
            type: mostly(fc.constantFrom('random', 'hmac'), fc.constantFrom('rsa', 'ed25519')),
            length: optional(mostly(fc.constantFrom(16, 32, 40), fc.constantFrom(4096, 8, 5000, 0, -1))),
          },
          { requiredKeys: ['type'] },
        ),
        junk,
      ),
      rotationInterval: optional(mostly(fc.constantFrom('24h', '168h'), duration)),
      overlap: optional(duration),
      target: optional(
        mostly(
          fc.record({ secretName: name, key: optional(fc.constantFrom('value', 'api-key', 'bad key!')) }),
        ),
      ),
    },
    { requiredKeys: ['name', 'generator'] },
  );

  /** An AgentIdentity (apiVersion and kind always right: otherwise nothing is exercised). */
  const agentIdentity = fc
    .record(
      {
        name: name,
        owner: mostly(
          fc.record(
            {
              team: mostly(dnsLabel, junk),
              contact: optional(fc.constantFrom('team@example.com', 'not an email')),
            },
            { requiredKeys: ['team'] },
          ),
          junk,
        ),
        purpose: mostly(
          fc.constantFrom('Answer support tickets with read access to the CRM', 'Nightly report export job'),
          fc.constantFrom('short', '          ', ''),
          junk,
        ),
        environment,
        serviceAccountName: optional(mostly(dnsLabel, fc.constantFrom('default', 'Bad_SA'))),
        automountServiceAccountToken: optional(mostly(fc.boolean(), junk)),
        ttl: optional(mostly(fc.constantFrom('24h', '168h', '720h'), duration)),
        credentialTTL: optional(duration),
        inactivityTimeout: optional(duration),
        orphanGracePeriod: optional(duration),
        quarantinePeriod: optional(duration),
        scopes: optional(mostly(fc.array(scope, { maxLength: 4 }), junk)),
        secrets: optional(mostly(fc.array(secret, { maxLength: 3 }), junk)),
        impact: optional(
          fc.record({
            dataClassification: optional(
              mostly(
                fc.constantFrom('public', 'internal', 'confidential', 'restricted'),
                fc.constant('secret'),
              ),
            ),
            internetExposed: optional(fc.boolean()),
          }),
        ),
        deletionPolicy: optional(mostly(fc.constantFrom('Delete', 'Retain'), fc.constant('Keep'))),
        unknownField: mostly(fc.constant(undefined), fc.constant('surprise')),
      },
      { requiredKeys: ['name', 'owner', 'purpose', 'environment'] },
    )
    .map(({ name, unknownField, ...spec }) => ({
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'AgentIdentity',
      metadata: { name },
      spec: unknownField ? { ...spec, unknownField } : spec,
    }));

  const environmentRules = fc.record({
    maxTTL: optional(duration),
    maxCredentialTTL: optional(duration),
    maxRotationInterval: optional(duration),
    forbiddenActions: optional(mostly(fc.array(awsAction, { maxLength: 4 }), junk)),
    forbiddenResources: optional(fc.array(awsResource, { maxLength: 3 })),
    requirePermissionsBoundary: optional(mostly(fc.boolean(), junk)),
    allowedProviders: optional(mostly(fc.subarray(['kubernetes', 'aws', 'vault']), fc.constant(['gcp']))),
    maxRiskLevel: optional(
      mostly(fc.constantFrom('Low', 'Moderate', 'High', 'Critical'), fc.constant('Extreme')),
    ),
    allowedVaultPaths: optional(
      fc.array(fc.constantFrom('secret/data/{namespace}/*', 'secret/*/x', '*', 'sys/*')),
    ),
    allowedAwsResources: optional(fc.array(fc.constantFrom('arn:aws:s3:::{namespace}-*', '*', 'arn:*:x'))),
    allowWildcardAwsResources: optional(fc.boolean()),
    allowedPrivilegedGrants: optional(fc.subarray(['nhi.dev', 'rbac', 'serviceaccounts/token', 'bogus'])),
  });

  /** An IdentityPolicy under a fresh name (never `default`: the one in force stays as it is). */
  const identityPolicy = fc
    .record(
      {
        name: dnsLabel,
        defaultEnvironment: optional(environment),
        operatorNamespace: optional(mostly(dnsLabel, fc.constant('Bad_NS'))),
        environments: mostly(
          fc.record({
            development: optional(environmentRules),
            staging: optional(environmentRules),
            production: optional(environmentRules),
          }),
          fc.constant({ qa: {} }),
          junk,
        ),
      },
      { requiredKeys: ['name'] },
    )
    .map(({ name, ...spec }) => ({
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'IdentityPolicy',
      metadata: { name: `fuzz-${name}` },
      spec,
    }));

  const awsProvider = fc.record(
    {
      region: mostly(fc.constantFrom('us-east-1', 'eu-west-1'), fc.constantFrom('', 'mars-1')),
      accountId: optional(mostly(fc.constantFrom('123456789012'), fc.constantFrom('1234', 'abcdefghijkl'))),
      endpoint: optional(
        mostly(fc.constantFrom('http://127.0.0.1:5000'), fc.constantFrom('not a url', 'ftp://x')),
      ),
      rolePath: optional(mostly(fc.constantFrom('/nhi/', '/'), fc.constantFrom('nhi', '//'))),
      roleNamePrefix: optional(mostly(fc.constantFrom('nhi-', 'agents-'), fc.constant('bad prefix!'))),
      permissionsBoundaryArn: optional(
        mostly(fc.constant('arn:aws:iam::123456789012:policy/nhi-boundary'), fc.constant('boundary')),
      ),
      mode: mostly(fc.constantFrom('irsa', 'pod-identity'), fc.constant('kiam')),
      irsa: optional(
        fc.record({
          oidcProviderArn: mostly(
            fc.constant('arn:aws:iam::123456789012:oidc-provider/oidc.example.com'),
            junk,
          ),
          issuer: mostly(fc.constant('https://oidc.example.com'), fc.constant('oidc.example.com')),
        }),
      ),
      podIdentity: optional(fc.record({ clusterName: mostly(dnsLabel, junk) })),
      secretsManager: optional(
        fc.record({
          recoveryWindowDays: optional(fc.constantFrom(7, 30, 0, 31, 6)),
          forceDelete: optional(fc.boolean()),
        }),
      ),
      maxWritesPerSecond: optional(fc.constantFrom(1, 10, 0, -1, 1000)),
    },
    { requiredKeys: ['region', 'mode'] },
  );

  const vaultProvider = fc.record(
    {
      address: mostly(
        fc.constantFrom('https://vault.example.com:8200', 'http://127.0.0.1:8200'),
        fc.constant('vault'),
      ),
      namespace: optional(fc.constantFrom('admin', 'team/a', '')),
      kubernetesAuthMount: optional(
        mostly(fc.constantFrom('kubernetes', 'k8s-prod'), fc.constant('bad mount/')),
      ),
      kvMount: optional(fc.constantFrom('secret', 'kv', '')),
      audience: optional(fc.constantFrom('vault', '')),
      tokenMaxTTL: optional(duration),
      auth: mostly(
        fc.oneof(
          fc.record({
            kubernetes: fc.record({ role: dnsLabel, mount: optional(fc.constant('kubernetes')) }),
          }),
          fc.record({
            tokenFile: fc.record({ path: fc.constantFrom('/var/run/vault/token', 'relative/path') }),
          }),
          fc.record({
            tokenSecretRef: fc.record({ name: dnsLabel, namespace: dnsLabel, key: fc.constant('token') }),
          }),
          fc.constant({}),
        ),
        junk,
      ),
    },
    { requiredKeys: ['address', 'auth'] },
  );

  /** A ClusterCredentialProvider under a fresh name. */
  const clusterCredentialProvider = fc
    .record({
      name: dnsLabel,
      aws: optional(mostly(awsProvider, junk)),
      vault: optional(mostly(vaultProvider, junk)),
      allowedNamespaces: optional(
        fc.oneof(
          fc.record({ names: fc.array(dnsLabel, { maxLength: 3 }) }),
          fc.record({ selector: fc.record({ matchLabels: fc.constant({ team: 'a' }) }) }),
          junk,
        ),
      ),
    })
    .map(({ name, ...spec }) => ({
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'ClusterCredentialProvider',
      metadata: { name: `fuzz-${name}` },
      spec: Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)),
    }));
  return { agentIdentity, identityPolicy, clusterCredentialProvider };
}

// Each kind twice: built clean, and built noisy (junk and mistakes mixed in).
noisy = false;
const clean = build();
noisy = true;
const mixed = build();
noisy = false;

/** An AgentIdentity (apiVersion and kind always right: otherwise nothing is exercised). */
export const agentIdentityArbitrary = fc.oneof(clean.agentIdentity, mixed.agentIdentity);
/** An IdentityPolicy under a fresh name (never `default`: the one in force stays as it is). */
export const identityPolicyArbitrary = fc.oneof(clean.identityPolicy, mixed.identityPolicy);
/** A ClusterCredentialProvider under a fresh name. */
export const clusterCredentialProviderArbitrary = fc.oneof(
  clean.clusterCredentialProvider,
  mixed.clusterCredentialProvider,
);

/** `object` with `{ns}` replaced by `namespace` everywhere, and metadata.namespace set (namespaced kinds). */
export function withNamespace<T extends { metadata: Record<string, unknown> }>(
  object: T,
  namespace: string,
): T {
  const filled = JSON.parse(JSON.stringify(object).replaceAll('{ns}', namespace)) as T;
  filled.metadata = { ...filled.metadata, namespace };
  return filled;
}
