// The admission verdict for one nhi.dev object, computed offline from the same definitions the
// apiserver enforces: the CRD schema and CEL rules (src/api/v1alpha1/schema.ts) and the
// ValidatingAdmissionPolicy (src/api/v1alpha1/admission-policy.ts) with the IdentityPolicy as
// params. Pure: (object, identityPolicy?) => Violation[]. Used by `nhictl lint` and by the
// operator's PolicyCompliant condition, which re-checks in case admission was bypassed.

import {
  ADMISSION_BINDING_NAME,
  DEFAULT_IDENTITY_POLICY_NAME,
  matchConditions,
  PARAMETER_NOT_FOUND_ACTION,
  validations,
  variables,
} from '../api/v1alpha1/admission-policy.ts';
import { type Kind, schemas } from '../api/v1alpha1/schema.ts';
import { API_VERSION, type IdentityPolicy } from '../api/v1alpha1/types.ts';
import { evaluate, evaluateMessage, evaluateRule } from './cel.ts';
import { validateStructure } from './structural.ts';
import type { Violation } from './violation.ts';

export type { Violation } from './violation.ts';

/**
 * What the offline evaluator knows about the request beyond the object. `namespaceLabels`: the labels
 * of the identity's Namespace (its environment label decides the rulebook); when unknown, the caller
 * says what to assume. The requesting user's rights (the `authorizer` rules) only the apiserver can
 * judge: they are skipped here and listed in `skipped`.
 */
export interface AdmissionContext {
  namespaceLabels?: Record<string, string>;
  username?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isNhiKind(object: unknown): object is { apiVersion: string; kind: Kind } {
  const o = object as { apiVersion?: unknown; kind?: unknown } | null;
  return o?.apiVersion === API_VERSION && typeof o.kind === 'string' && Object.hasOwn(schemas, o.kind);
}

/** What the apiserver checks for every object before its schema: name and namespace shape. */
function metadataViolations(object: Record<string, unknown>): Violation[] {
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown; generateName?: unknown };
  const out: Violation[] = [];
  if (typeof metadata.name !== 'string' || metadata.name === '') {
    if (typeof metadata.generateName !== 'string') {
      out.push({
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
        rule: 'meta:name',
      });
    }
  } else if (metadata.name.length > 253 || !DNS_SUBDOMAIN.test(metadata.name)) {
    out.push({
      field: 'metadata.name',
      message: `Invalid value "${metadata.name.slice(0, 64)}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      rule: 'meta:name',
    });
  }
  if (
    metadata.namespace !== undefined &&
    (typeof metadata.namespace !== 'string' || !DNS_LABEL.test(metadata.namespace))
  ) {
    out.push({
      field: 'metadata.namespace',
      message: 'Invalid value: a namespace must be a lowercase RFC 1123 label',
      rule: 'meta:namespace',
    });
  }
  return out;
}

/**
 * Evaluates the ValidatingAdmissionPolicy against an AgentIdentity that passed its schema, with
 * `policy` as params. Mirrors the apiserver: match conditions, then variables in order, then each
 * validation; an expression that fails to evaluate denies (failurePolicy Fail).
 */
export function admissionPolicyViolations(
  identity: Record<string, unknown>,
  policy: IdentityPolicy | undefined,
  operation: 'CREATE' | 'UPDATE' = 'CREATE',
  oldIdentity?: Record<string, unknown>,
  context: AdmissionContext = {},
): Violation[] {
  const namespace = (identity.metadata as { namespace?: string } | undefined)?.namespace ?? '';
  const request = { operation, namespace, userInfo: { username: context.username ?? '' } };
  const namespaceObject = {
    metadata: { name: namespace, ...(context.namespaceLabels && { labels: context.namespaceLabels }) },
  };
  const base = { object: identity, oldObject: oldIdentity ?? null, request, namespaceObject };
  for (const condition of matchConditions) {
    const outcome = evaluateRule(condition.expression, { ...base, params: policy ?? null });
    if (outcome.ok && outcome.value === false) return [];
  }
  if (!policy) {
    if (PARAMETER_NOT_FOUND_ACTION !== 'Deny') return [];
    return [
      {
        field: '',
        message: `no params found for policy binding with \`${PARAMETER_NOT_FOUND_ACTION}\` parameterNotFoundAction: no IdentityPolicy named ${DEFAULT_IDENTITY_POLICY_NAME}, so binding ${ADMISSION_BINDING_NAME} denies every AgentIdentity until it exists`,
        rule: 'policy:params-not-found',
      },
    ];
  }
  const values: Record<string, unknown> = {};
  const bindings = { ...base, params: policy, variables: values };
  for (const variable of variables) {
    const outcome = evaluate(variable.expression, bindings);
    if (outcome.ok) values[variable.name] = outcome.value;
  }
  const out: Violation[] = [];
  for (const validation of validations) {
    if (validation.requester) continue;
    const outcome = evaluateRule(validation.expression, bindings);
    if (outcome.ok && outcome.value === true) continue;
    const message = outcome.ok
      ? evaluateMessage(validation.messageExpression, bindings, validation.message)
      : `${validation.message} (expression failed: ${outcome.error})`;
    out.push({ field: validation.field, message, rule: `policy:${validation.id}` });
  }
  return out;
}

/**
 * Everything the apiserver would say about creating `object`: built-in metadata checks, the CRD
 * schema and CEL rules, then (AgentIdentity only, and only when those pass, as in the apiserver)
 * the admission policy with `identityPolicy` as params.
 */
export function validateObject(
  object: unknown,
  identityPolicy?: IdentityPolicy,
  context?: AdmissionContext,
): Violation[] {
  if (!isNhiKind(object)) {
    return [
      {
        field: 'kind',
        message: `not an ${API_VERSION} kind: ${Object.keys(schemas).join(', ')}`,
        rule: 'meta:kind',
      },
    ];
  }
  const record = object as unknown as Record<string, unknown>;
  const structural = validateStructure(object.kind, record);
  const violations = [...metadataViolations(record), ...structural.violations];
  if (violations.length > 0 || object.kind !== 'AgentIdentity') return violations;
  return admissionPolicyViolations(structural.defaulted, identityPolicy, 'CREATE', undefined, context);
}

/** The admission rules only the apiserver can judge (they ask about the requesting user). */
export const requesterRules: readonly string[] = validations.filter((v) => v.requester).map((v) => v.id);
