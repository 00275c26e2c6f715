// The ValidatingAdmissionPolicy that protects the controls on an AgentIdentity: the kill switch
// (annotation nhi.dev/locked and spec.locked), abandon-backends, rotate-requested-at, attest-requested, and the
// operator's own revocation-started mark. A namespace editor may edit an AgentIdentity; only a
// requester the authorizer allows the dedicated verb (ControlVerbs in annotations.ts) may add,
// change or remove one of these. The chart grants lock, abandon and rotate to the nhi-security
// ClusterRole, revoke to the operator alone; the built-in edit and admin roles hold none of them.
//
// Unlike nhi-identity-policy (admission-policy.ts) this policy takes no params and matches every
// CREATE and UPDATE, metadata-only ones included: annotations are metadata. The status subresource
// is not matched (it cannot change annotations), so the operator's status writes never reach it.
//
// The values that name a person are checked too: the lock and attest-requested must begin, and abandon-backends end,
// with the requesting user's name, so neither carries a client-chosen actor. The requesting user is
// also recorded with auditAnnotations, which the apiserver writes to its audit log.

import { AGENT_IDENTITY_WRITES, PART_OF } from './admission-policy.ts';
import {
  ABANDONED_BY,
  Controls,
  ControlVerbs,
  Marks,
  OperatorAnnotations,
  RETAIN_VERB,
} from './annotations.ts';
import { GROUP } from './types.ts';

export const CONTROLS_POLICY_NAME = 'nhi-identity-controls';
export const CONTROLS_BINDING_NAME = 'nhi-identity-controls';

export interface ControlValidation {
  /** Names the rule in tests; not written to the manifest. */
  id: string;
  /** The annotation (or field) the rule protects; every message names it. Not written to the manifest. */
  field: string;
  expression: string;
  messageExpression: string;
  message: string;
}

/** A CEL string literal. */
const q = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const user = 'request.userInfo.username';
const target = "variables.subject.metadata.namespace + '/' + variables.subject.metadata.name";

/** The annotation's value, set in the new object. */
const inNew = (key: string) => `${q(key)} in variables.newAnnotations`;
const newValue = (key: string) => `variables.newAnnotations[${q(key)}]`;
/** The annotation was added, changed or removed by this request. */
const changed = (key: string) =>
  `(${inNew(key)}) != (${q(key)} in variables.oldAnnotations) || (${inNew(key)} && ${newValue(key)} != variables.oldAnnotations[${q(key)}])`;

/** Whether the requester may use `verb` on this AgentIdentity (RBAC, or any authorizer in use). */
function allowed(verb: string): string {
  return `authorizer.group('${GROUP}').resource('agentidentities').namespace(variables.subject.metadata.namespace).name(variables.subject.metadata.name).check('${verb}').allowed()`;
}

const deleting = "request.operation == 'DELETE'";

export const controlVariables = [
  // On DELETE there is no new object: the identity being deleted is the old one.
  { name: 'subject', expression: `${deleting} ? oldObject : object` },
  {
    name: 'newAnnotations',
    expression: `!(${deleting}) && has(object.metadata.annotations) ? object.metadata.annotations : {}`,
  },
  {
    name: 'oldAnnotations',
    expression:
      "request.operation == 'UPDATE' && has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {}",
  },
  { name: 'lockChanged', expression: changed(Controls.lock) },
  {
    name: 'specLockChanged',
    expression: `!(${deleting}) && (has(object.spec.locked) && object.spec.locked) != (request.operation == 'UPDATE' && has(oldObject.spec.locked) && oldObject.spec.locked)`,
  },
  {
    // Removing the finalizer by hand skips revocation: the cloud credentials would outlive the identity.
    name: 'finalizerRemoved',
    expression: `request.operation == 'UPDATE' && has(oldObject.metadata.finalizers) && ${q(Marks.finalizer)} in oldObject.metadata.finalizers && !(has(object.metadata.finalizers) && ${q(Marks.finalizer)} in object.metadata.finalizers)`,
  },
  {
    // Deleting a locked identity and creating it again would lift the lock. Deleting its namespace
    // (a platform decision) still goes through: the namespace controller must not wedge.
    name: 'lockedDeleted',
    expression: `${deleting} && !(has(namespaceObject.status) && has(namespaceObject.status.phase) && namespaceObject.status.phase == 'Terminating') && ((has(oldObject.spec.locked) && oldObject.spec.locked) || (has(oldObject.metadata.annotations) && ${q(Controls.lock)} in oldObject.metadata.annotations))`,
  },
  { name: 'abandonChanged', expression: changed(Controls.abandonBackends) },
  { name: 'rotateChanged', expression: changed(Controls.rotateRequestedAt) },
  { name: 'revocationChanged', expression: changed(OperatorAnnotations.revocationStarted) },
  { name: 'attestChanged', expression: changed(Controls.attestRequest) },
  {
    // Retain keeps credentials past their identity: setting it (create, or a change to it) is protected.
    name: 'retainSet',
    expression: `!(${deleting}) && has(object.spec.deletionPolicy) && object.spec.deletionPolicy == 'Retain' && !(request.operation == 'UPDATE' && has(oldObject.spec.deletionPolicy) && oldObject.spec.deletionPolicy == 'Retain')`,
  },
];

function verbRequired(
  id: string,
  field: string,
  changedVariable: string,
  verb: string,
  doing: string,
): ControlValidation {
  return {
    id,
    field,
    expression: `!variables.${changedVariable} || ${allowed(verb)}`,
    messageExpression: `${q(`${field}: setting, changing or removing it needs the ${verb} verb on ${GROUP} agentidentities, which `)} + ${user} + ${q(` does not hold for `)} + ${target} + ${q(` (${doing})`)}`,
    message: `${field}: setting, changing or removing it needs the ${verb} verb on ${GROUP} agentidentities`,
  };
}

export const controlValidations: ControlValidation[] = [
  verbRequired(
    'lock-verb',
    `annotation ${Controls.lock}`,
    'lockChanged',
    ControlVerbs[Controls.lock],
    'the kill switch: the nhi-security ClusterRole grants it',
  ),
  verbRequired(
    'spec-locked-verb',
    'spec.locked',
    'specLockChanged',
    ControlVerbs[Controls.lock],
    'the kill switch: the nhi-security ClusterRole grants it',
  ),
  {
    id: 'lock-names-requester',
    field: `annotation ${Controls.lock}`,
    expression: `!variables.lockChanged || !(${inNew(Controls.lock)}) || ${newValue(Controls.lock)} == ${user} || ${newValue(Controls.lock)}.startsWith(${user} + ' at ')`,
    messageExpression: `${q(`annotation ${Controls.lock} must begin with the requesting user's name and ' at ': `)} + ${user} + ${q(' at <time>[: reason] (nhictl lock writes it)')}`,
    message: `annotation ${Controls.lock} must begin with the requesting user's name (nhictl lock writes it)`,
  },
  verbRequired(
    'abandon-verb',
    `annotation ${Controls.abandonBackends}`,
    'abandonChanged',
    ControlVerbs[Controls.abandonBackends],
    'giving up revocation in a backend: the nhi-security ClusterRole grants it',
  ),
  {
    id: 'abandon-names-requester',
    field: `annotation ${Controls.abandonBackends}`,
    expression: `!variables.abandonChanged || !(${inNew(Controls.abandonBackends)}) || ${newValue(Controls.abandonBackends)}.endsWith(${q(ABANDONED_BY)} + ${user})`,
    messageExpression: `${q(`annotation ${Controls.abandonBackends} must end with the requesting user's name: <kind>/<provider>,...${ABANDONED_BY}`)} + ${user}`,
    message: `annotation ${Controls.abandonBackends} must end with '${ABANDONED_BY}<the requesting user's name>'`,
  },
  verbRequired(
    'rotate-verb',
    `annotation ${Controls.rotateRequestedAt}`,
    'rotateChanged',
    ControlVerbs[Controls.rotateRequestedAt],
    'an on-demand rotation: the nhi-security ClusterRole grants it',
  ),
  verbRequired(
    'attest-verb',
    `annotation ${Controls.attestRequest}`,
    'attestChanged',
    ControlVerbs[Controls.attestRequest],
    'confirming the identity is still needed: the nhi-security ClusterRole grants it, or a Role for sponsors (docs/attestation.md)',
  ),
  {
    id: 'attest-names-requester',
    field: `annotation ${Controls.attestRequest}`,
    expression: `!variables.attestChanged || !(${inNew(Controls.attestRequest)}) || ${newValue(Controls.attestRequest)} == ${user} || ${newValue(Controls.attestRequest)}.startsWith(${user} + ' at ')`,
    messageExpression: `${q(`annotation ${Controls.attestRequest} must begin with the requesting user's name: `)} + ${user} + ${q(" at <time>[: note] (nhictl attest writes it); no one attests in another's name")}`,
    message: `annotation ${Controls.attestRequest} must begin with the requesting user's name (nhictl attest writes it)`,
  },
  verbRequired(
    'retain-verb',
    'spec.deletionPolicy',
    'retainSet',
    RETAIN_VERB,
    'Retain keeps every credential past the identity, unmanaged: the nhi-security ClusterRole grants it',
  ),
  verbRequired(
    'finalizer-verb',
    `finalizer ${Marks.finalizer}`,
    'finalizerRemoved',
    ControlVerbs[OperatorAnnotations.revocationStarted],
    'removing it skips revocation: only the operator ClusterRole grants it; delete the AgentIdentity to offboard',
  ),
  verbRequired(
    'delete-locked-verb',
    `annotation ${Controls.lock}`,
    'lockedDeleted',
    ControlVerbs[Controls.lock],
    'deleting a locked identity would lift the lock: unlock it first, with the nhi-security ClusterRole',
  ),
  verbRequired(
    'revocation-verb',
    `annotation ${OperatorAnnotations.revocationStarted}`,
    'revocationChanged',
    ControlVerbs[OperatorAnnotations.revocationStarted],
    "the operator's own mark: only its ClusterRole grants it",
  ),
];

/**
 * Recorded in the apiserver's audit log as `nhi-identity-controls/<key>`: who used which control. An
 * empty value records nothing (the request did not touch that control).
 */
export const controlAuditAnnotations = [
  {
    key: 'lock',
    valueExpression: `variables.lockChanged || variables.specLockChanged ? ${user} + ((${inNew(Controls.lock)}) || (has(object.spec.locked) && object.spec.locked) ? ' locked ' : ' unlocked ') + ${target} : ''`,
  },
  {
    key: 'abandon-backends',
    valueExpression: `variables.abandonChanged ? ${user} + ' set ${Controls.abandonBackends} on ' + ${target} + ' to ' + (${inNew(Controls.abandonBackends)} ? ${newValue(Controls.abandonBackends)} : '(removed)') : ''`,
  },
  {
    key: 'rotate',
    valueExpression: `variables.rotateChanged ? ${user} + ' requested a rotation of ' + ${target} : ''`,
  },
  {
    key: 'attest',
    valueExpression: `variables.attestChanged && ${inNew(Controls.attestRequest)} ? ${user} + ' attested ' + ${target} : ''`,
  },
  {
    key: 'revocation-started',
    valueExpression: `variables.revocationChanged ? ${user} + ' changed ${OperatorAnnotations.revocationStarted} on ' + ${target} : ''`,
  },
];

export function controlsPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: CONTROLS_POLICY_NAME, labels: PART_OF },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: AGENT_IDENTITY_WRITES.resourceRules.map((rule) => ({
          ...rule,
          operations: [...rule.operations, 'DELETE'],
        })),
      },
      variables: controlVariables,
      validations: controlValidations.map(({ expression, messageExpression, message }) => ({
        expression,
        messageExpression,
        message,
        reason: 'Forbidden',
      })),
      auditAnnotations: controlAuditAnnotations,
    },
  };
}

export function controlsPolicyBinding(): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: CONTROLS_BINDING_NAME, labels: PART_OF },
    spec: { policyName: CONTROLS_POLICY_NAME, validationActions: ['Deny', 'Audit'] },
  };
}
