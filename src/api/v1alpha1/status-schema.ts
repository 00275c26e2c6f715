// Status schemas. Status is written only by the operator, through the status subresource; the
// descriptions are there so `kubectl explain agentidentity.status` tells readers what they see.

import {
  ANOMALIES_KEPT,
  BASELINE_ACTIONS_MAX,
  BASELINE_SOURCES_MAX,
  NOTIFIED_KEYS_MAX,
  ROTATION_REQUEST_MAX,
} from './defaults.ts';
import { bool, dnsSubdomain, int, list, obj, oneOf, type Schema, str, timestamp } from './openapi.ts';
import { AnomalyKinds, Phases } from './types.ts';

export const conditionsSchema: Schema = list(
  'Conditions are the latest observations of the object. Types are adjectives: Ready, Provisioned, SecretsRotated, WorkloadBound, PolicyCompliant, Expired, Orphaned, Quarantined, Revoked, and Observed (spec.management Observe only). Each carries the generation it was computed from.',
  obj(
    'One observation, in the shape of a metav1.Condition.',
    {
      type: str('Type of condition in CamelCase, e.g. Ready.', {
        maxLength: 316,
        pattern:
          '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      }),
      status: oneOf('Status of the condition: True, False or Unknown.', ['True', 'False', 'Unknown']),
      reason: str('A CamelCase machine-readable reason for the last transition.', {
        maxLength: 1024,
        minLength: 1,
        pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      }),
      message: str('A human-readable explanation of the last transition. Never contains secret values.', {
        maxLength: 32768,
      }),
      lastTransitionTime: timestamp('When the condition last changed status.'),
      observedGeneration: int('The .metadata.generation the condition was computed from.', {
        minimum: 0,
        format: 'int64',
      }),
    },
    { required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'] },
  ),
  { maxItems: 32, listType: 'map', mapKeys: ['type'] },
);

const observedGeneration = int('The .metadata.generation the operator last acted on.', {
  minimum: 0,
  format: 'int64',
});

const riskSchema = obj(
  'Risk on a NIST-style 5x5 matrix: likelihood x impact = score, mapped to a level and a remediation deadline. Every score is explained by its factors.',
  {
    likelihood: int('How likely a compromise is, 1 (rare) to 5 (almost certain).', {
      minimum: 1,
      maximum: 5,
    }),
    impact: int('How bad a compromise would be, 1 (negligible) to 5 (severe).', { minimum: 1, maximum: 5 }),
    score: int('likelihood x impact, 1 to 25.', { minimum: 1, maximum: 25 }),
    level: oneOf('Low, Moderate, High or Critical.', ['Low', 'Moderate', 'High', 'Critical']),
    factors: list(
      'The measurable factors behind the score.',
      obj(
        'One factor.',
        {
          id: str('Stable identifier of the factor, e.g. wildcard-scope.', { maxLength: 64 }),
          description: str('What was observed.', { maxLength: 1024 }),
          weight: { type: 'number', description: 'How much the factor added to the likelihood or impact.' },
        },
        { required: ['id', 'description', 'weight'] },
      ),
      { maxItems: 64 },
    ),
    remediateBy: timestamp('Deadline to remediate at this level (Critical 7 days, High 30 days).'),
  },
  { required: ['likelihood', 'impact', 'score', 'level', 'factors'] },
);

const rightSizingSchema = obj(
  'Granted against used over the window: the grants of spec.scopes (or parts of them) never used, and a narrower scope list that still allows every use seen. Only a suggestion: nothing is changed.',
  {
    since: timestamp(
      'Start of the evidence: the window start, or the first audit event read when the logs begin later.',
    ),
    complete: bool(
      'The audit logs cover the whole window and the identity existed throughout it; only then does unused privilege count in status.risk.',
    ),
    backends: list(
      'The backends whose grants were judged (those with an audit log).',
      oneOf('A backend.', ['kubernetes', 'vault', 'aws']),
      {
        maxItems: 3,
        listType: 'set',
      },
    ),
    unused: list(
      'Grants with a part never used in the window.',
      obj(
        'One grant, or part of one, never used.',
        {
          field: str('Where the grant is, e.g. spec.scopes[0].rules[1].', { maxLength: 128 }),
          grant: str('The grant, in short.', { maxLength: 2048 }),
          unused: str('What of it was never used.', { maxLength: 4096 }),
        },
        { required: ['field', 'grant', 'unused'] },
      ),
      { maxItems: 64 },
    ),
    suggestedScopes: list(
      'spec.scopes narrowed to what was used, in the shape of spec.scopes (apply it to narrow the identity).',
      {
        type: 'object',
        description: 'One scope, as in spec.scopes.',
        'x-kubernetes-preserve-unknown-fields': true,
      },
      { maxItems: 64 },
    ),
  },
  { required: ['since', 'complete', 'backends', 'unused'] },
);

export const agentIdentityStatusSchema: Schema = obj(
  'Observed state of the identity, written by the operator.',
  {
    observedGeneration,
    phase: str(
      `A one-word summary for humans derived from the conditions: ${Phases.join(', ')}. Automation should read conditions.`,
      { maxLength: 32 },
    ),
    conditions: conditionsSchema,
    serviceAccount: str('The managed ServiceAccount the workload runs as.', { maxLength: 253 }),
    boundPods: int('Pods currently running as the managed ServiceAccount.', { minimum: 0 }),
    aws: obj('What the operator provisioned in AWS IAM.', {
      roleArn: str('ARN of the IAM role bound to the ServiceAccount.', { maxLength: 2048 }),
      roleName: str('Name of the IAM role.', { maxLength: 64 }),
      policyHash: str('SHA-256 of the inline policy last written; drift detection compares it.', {
        maxLength: 128,
      }),
    }),
    vault: obj('What the operator provisioned in Vault/OpenBao.', {
      role: str('Name of the kubernetes-auth role.', { maxLength: 256 }),
      policy: str('Name of the ACL policy.', { maxLength: 256 }),
      databaseRole: str(
        'Name of the database secrets engine role the identity reads its PostgreSQL logins from (<mount>/creds/<role>). Never a lease id.',
        { maxLength: 256 },
      ),
      databaseLeases: int(
        'Live leases (PostgreSQL logins) of the database role when the operator last provisioned: a count, never a lease id.',
        { minimum: 0 },
      ),
    }),
    secrets: list(
      'Rotation state of each secret in spec.secrets.',
      obj(
        'Rotation state of one secret. Versions and times only: values never appear in status.',
        {
          name: dnsSubdomain('Name of the secret in spec.secrets.'),
          currentVersion: int('Version now served as current.', { minimum: 0, format: 'int64' }),
          previousVersion: int('Version still valid during the overlap window.', {
            minimum: 0,
            format: 'int64',
          }),
          lastRotated: timestamp('When the current version was promoted.'),
          nextRotation: timestamp('When the next rotation is due.'),
          restartedVersion: int(
            'The currentVersion whose rotation the workload was last restarted for (spec.secrets[].restartWorkload): a workload is rolled once per rotation.',
            { minimum: 0, format: 'int64' },
          ),
          rotationRequest: str(
            'The nhi.dev/rotate-requested-at value already handled for this secret (its first 64 characters): a request is handled once, so a time in the future cannot rotate on every reconcile.',
            { maxLength: ROTATION_REQUEST_MAX },
          ),
        },
        { required: ['name'] },
      ),
      { maxItems: 16, listType: 'map', mapKeys: ['name'] },
    ),
    expiresAt: timestamp('When the identity expires (creation + spec.ttl) unless renewed by a spec change.'),
    lastUsed: timestamp(
      'Last use seen in real signals: IAM RoleLastUsed, Secrets Manager, Vault, running pods, and the audit logs the operator follows (status.activity).',
    ),
    orphanedSince: timestamp('When the workload in spec.workloadRef was first seen missing.'),
    quarantineUntil: timestamp('End of the quarantine phase; then the credentials are deleted.'),
    risk: riskSchema,
    activity: obj(
      'Real use seen in the audit logs the operator follows (apiserver, OpenBao), attributed to this identity: per backend, requests, denials, errors and the last allowed request in the window. Absent when the operator follows no audit log.',
      {
        window: str('The window the counts cover, a duration counted per hour (e.g. 24h).', {
          maxLength: 32,
        }),
        observedAt: timestamp('When these counts were taken (rewritten only when they change).'),
        backends: list(
          'One entry per backend with requests in the window.',
          obj(
            'Counts of one backend.',
            {
              backend: oneOf('The backend.', ['kubernetes', 'vault', 'aws']),
              requests: int('Requests in the window.', { minimum: 0, format: 'int64' }),
              denials: int('Requests refused (authorization).', { minimum: 0, format: 'int64' }),
              errors: int('Requests that failed otherwise.', { minimum: 0, format: 'int64' }),
              lastUsed: timestamp('The last allowed request.'),
            },
            { required: ['backend', 'requests', 'denials', 'errors'] },
          ),
          { maxItems: 3, listType: 'map', mapKeys: ['backend'] },
        ),
        rightSizing: rightSizingSchema,
        baseline: obj(
          "What the identity is known to do: the actions and source addresses learnt since the baseline began. After the IdentityPolicy's anomalies.baselinePeriod, one not in it is an anomaly (and is then added).",
          {
            since: timestamp('When learning began.'),
            actions: list(
              'Actions seen: backend, verb and resource (kubernetes get configmaps; vault read secret/data/...).',
              str('An action.', { maxLength: 1024 }),
              { maxItems: BASELINE_ACTIONS_MAX },
            ),
            sources: list('Source addresses seen.', str('An address.', { maxLength: 64 }), {
              maxItems: BASELINE_SOURCES_MAX,
            }),
          },
          { required: ['since', 'actions', 'sources'] },
        ),
        anomalies: list(
          'The latest anomalies found in the audit logs, each also an Event and an audit record.',
          obj(
            'One anomaly.',
            {
              kind: oneOf('What was seen.', AnomalyKinds),
              time: timestamp('When the request behind it was made.'),
              message: str('What was seen, in words.', { maxLength: 2048 }),
            },
            { required: ['kind', 'time', 'message'] },
          ),
          { maxItems: ANOMALIES_KEPT },
        ),
      },
      { required: ['window', 'observedAt', 'backends'] },
    ),
    observed: obj(
      'Observe mode only: the existing objects in spec.observe as last read. Nothing about them is ever changed by the operator.',
      {
        objects: list(
          'One entry per observed object.',
          obj(
            'One observed object.',
            {
              kind: oneOf('What it is.', ['ServiceAccount', 'IAMRole', 'VaultRole']),
              name: str('Its name.', { maxLength: 253 }),
              reported: bool(
                'Found and bound to this namespace only; false: missing, refused or unreadable.',
              ),
              arn: str('The IAM role ARN.', { maxLength: 2048 }),
              resourceVersion: str('The ServiceAccount resourceVersion, or a hash of the role as read.', {
                maxLength: 128,
              }),
              boundTo: list(
                'The ServiceAccounts (namespace/name) its trust admits, all in this namespace.',
                str('namespace/name.', { maxLength: 512 }),
                { maxItems: 32 },
              ),
              lastUsed: timestamp('Last use the backend reports (IAM RoleLastUsed).'),
              message: str('Why it is not reported.', { maxLength: 1024 }),
            },
            { required: ['kind', 'name', 'reported'] },
          ),
          { maxItems: 3 },
        ),
      },
      { required: ['objects'] },
    ),
    plan: list(
      'What the next reconcile would change, for dry-run and review.',
      obj(
        'One planned change.',
        {
          action: str('create, update, delete, rotate, quarantine, ...', { maxLength: 64 }),
          resource: str('The external or Kubernetes object concerned.', { maxLength: 2048 }),
          reason: str('Why.', { maxLength: 1024 }),
        },
        { required: ['action', 'resource', 'reason'] },
      ),
      { maxItems: 128 },
    ),
    failedAttempts: int('Consecutive failed reconciles; drives backoff across restarts.', { minimum: 0 }),
    lastFailureTime: timestamp('When the last reconcile failed.'),
    lastFailedAction: str(
      'The lifecycle action that failed last (provision, quarantine, revoke); its retries back off.',
      {
        maxLength: 32,
      },
    ),
    attestedAt: timestamp(
      'When the sponsor last attested that the identity is still needed (nhictl attest).',
    ),
    attestedBy: str('The Kubernetes user who attested (checked at admission).', { maxLength: 512 }),
    attestationRequest: str(
      'The SHA-256 (hex) of the nhi.dev/attest-requested value already recorded: a request is recorded once.',
      { maxLength: 64 },
    ),
    notified: list(
      'Dedupe keys of the latest webhook notifications delivered (also their CloudEvents id): each occurrence is sent once, across restarts.',
      str('type/occurrence.', { maxLength: 256 }),
      { maxItems: NOTIFIED_KEYS_MAX },
    ),
    providers: list(
      'Every backend the identity has credentials in, as kind/ClusterCredentialProvider (kubernetes alone for the embedded one). Kept until revoked there, so removing a scope never leaves a ghost credential.',
      str('kind or kind/provider-name.', { maxLength: 300 }),
      { maxItems: 16 },
    ),
  },
);

export const simpleStatusSchema: Schema = obj('Observed state, written by the operator.', {
  observedGeneration,
  conditions: conditionsSchema,
});
