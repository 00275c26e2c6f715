// What the apiserver does with a custom resource before admission, evaluated offline from the
// same schema objects the CRDs are generated from: defaulting, OpenAPI validation (ajv, on a
// JSON Schema translation of the structural schema), list-type map/set uniqueness, and the
// x-kubernetes-validations CEL rules. Like the apiserver, CEL rules are skipped when the schema
// errors include a "blocking" one (required, enum, too long, too many, wrong type).

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { CelRule, Schema } from '../api/v1alpha1/openapi.ts';
import { DURATION_PATTERN } from '../api/v1alpha1/openapi.ts';
import { type Kind, schemas } from '../api/v1alpha1/schema.ts';
import { evaluateMessage, evaluateRule } from './cel.ts';
import { childPath, type Violation } from './violation.ts';

export interface StructuralResult {
  violations: Violation[];
  /** The object as the apiserver would see it: status dropped, defaults applied. */
  defaulted: Record<string, unknown>;
}

const BLOCKING = new Set([
  'required',
  'enum',
  'maxLength',
  'maxItems',
  'maxProperties',
  'type',
  'additionalProperties',
]);

/** Structural schema -> JSON Schema: same keywords, plus "no unknown fields" where Kubernetes prunes. */
export function toJsonSchema(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of [
    'type',
    'enum',
    'pattern',
    'format',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'minProperties',
    'maxProperties',
    'minimum',
    'maximum',
    'default',
    'required',
  ] as const) {
    if (schema[key] !== undefined) out[key] = schema[key];
  }
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, child]) => [name, toJsonSchema(child)]),
    );
    if (!schema['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (schema.additionalProperties) out.additionalProperties = toJsonSchema(schema.additionalProperties);
  if (schema.items) out.items = toJsonSchema(schema.items);
  return out;
}

const ajv = new Ajv({
  allErrors: true,
  strict: false,
  useDefaults: true,
  verbose: true, // errors carry the offending value, for messages
  formats: {
    'date-time': /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
    int32: true,
    int64: true,
  },
});
const validators = new Map<Kind, ValidateFunction>();

function validatorFor(kind: Kind): ValidateFunction {
  let validate = validators.get(kind);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(schemas[kind]));
    validators.set(kind, validate);
  }
  return validate;
}

function pathOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>(
      (path, segment) => childPath(path, /^\d+$/.test(segment) ? Number(segment) : segment),
      '',
    );
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 61)}...` : text);
}

/** ajv error -> violation worded like the apiserver's field error. */
function fromAjv(error: ErrorObject): Violation {
  const field = pathOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const rule = `schema:${error.keyword}`;
  switch (error.keyword) {
    case 'required':
      return { field: childPath(field, String(params.missingProperty)), message: 'Required value', rule };
    case 'additionalProperties':
      return {
        field: childPath(field, String(params.additionalProperty)),
        message: 'unknown field: not in the schema (strict field validation rejects it)',
        rule,
      };
    case 'enum':
      return {
        field,
        message: `Unsupported value ${shown(error.data)}: supported values: ${(params.allowedValues as string[]).map((v) => `"${v}"`).join(', ')}`,
        rule,
      };
    case 'pattern':
      if (params.pattern === DURATION_PATTERN) {
        return {
          field,
          message: `Invalid value ${shown(error.data)}: a Go duration such as 15m, 24h or 2160h (units ns, us, ms, s, m, h; no d or y)`,
          rule,
        };
      }
      return { field, message: `Invalid value ${shown(error.data)}: should match '${params.pattern}'`, rule };
    case 'maxLength':
      return { field, message: `Too long: may not be more than ${params.limit} bytes`, rule };
    case 'minLength':
      return {
        field,
        message: `Invalid value ${shown(error.data)}: should be at least ${params.limit} chars long`,
        rule,
      };
    case 'maxItems':
      return { field, message: `Too many: must have at most ${params.limit} items`, rule };
    case 'minItems':
      return { field, message: `Invalid value: should have at least ${params.limit} items`, rule };
    case 'minProperties':
      return { field, message: `Invalid value: should have at least ${params.limit} properties`, rule };
    case 'maximum':
    case 'minimum':
      return {
        field,
        message: `Invalid value ${shown(error.data)}: should be ${params.comparison} ${params.limit}`,
        rule,
      };
    case 'type':
      return { field, message: `Invalid value ${shown(error.data)}: must be of type ${params.type}`, rule };
    default:
      return {
        field,
        message: `Invalid value ${shown(error.data)}: ${error.message ?? error.keyword}`,
        rule,
      };
  }
}

/**
 * As the apiserver does before defaulting: a field whose value is null and whose schema is not
 * `nullable` is dropped (so `allowedNamespaces: null` means unset, and a default applies).
 */
function dropNulls(schema: Schema, value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) dropNulls(schema.items, item);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const [name, child] of Object.entries(record)) {
    const childSchema = schema.properties?.[name] ?? schema.additionalProperties;
    if (!childSchema || typeof childSchema !== 'object') continue;
    if (child === null && !(childSchema as { nullable?: boolean }).nullable) delete record[name];
    else dropNulls(childSchema, child);
  }
}

type Visit = (schema: Schema, value: unknown, path: string) => void;

/** Walks a value alongside its schema: properties, list items, map values. */
function walk(schema: Schema, value: unknown, path: string, visit: Visit): void {
  if (value === undefined || value === null) return;
  visit(schema, value, path);
  if (schema.properties && typeof value === 'object' && !Array.isArray(value)) {
    for (const [name, child] of Object.entries(schema.properties)) {
      walk(child, (value as Record<string, unknown>)[name], childPath(path, name), visit);
    }
  }
  if (schema.additionalProperties && typeof value === 'object' && !Array.isArray(value)) {
    for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
      walk(schema.additionalProperties, child, childPath(path, name), visit);
    }
  }
  if (schema.items && Array.isArray(value)) {
    const items = schema.items;
    value.forEach((item, index) => {
      walk(items, item, childPath(path, index), visit);
    });
  }
}

/** x-kubernetes-list-type map and set: no two items with the same key (map) or value (set). */
function listUniqueness(schema: Schema, value: unknown, path: string, out: Violation[]): void {
  const listType = schema['x-kubernetes-list-type'];
  if (!Array.isArray(value) || (listType !== 'map' && listType !== 'set')) return;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  value.forEach((item, index) => {
    const identity =
      listType === 'map'
        ? JSON.stringify(keys.map((key) => (item as Record<string, unknown>)?.[key]))
        : JSON.stringify(item);
    if (seen.has(identity)) {
      const what =
        listType === 'map' ? keys.map((key, i) => `${key}=${JSON.parse(identity)[i]}`).join(',') : identity;
      out.push({
        field: childPath(path, index),
        message: `Duplicate value: ${what}`,
        rule: `schema:list-${listType}`,
      });
    }
    seen.add(identity);
  });
}

function celViolation(rule: CelRule, self: unknown, path: string): Violation | undefined {
  const outcome = evaluateRule(rule.rule, { self });
  if (outcome.ok && outcome.value === true) return undefined;
  if (!outcome.ok) {
    return { field: path, message: `${outcome.error} evaluating rule: ${rule.rule}`, rule: `cel:${rule.id}` };
  }
  const fallback = rule.message ?? `failed rule: ${rule.rule}`;
  const message = rule.messageExpression
    ? evaluateMessage(rule.messageExpression, { self }, fallback)
    : fallback;
  const field = (rule.fieldPath ?? '')
    .split('.')
    .filter((segment) => segment !== '')
    .reduce(childPath, path);
  return { field, message, rule: `cel:${rule.id}` };
}

/** Evaluates every x-kubernetes-validations rule of `schema` against `value`, depth first. */
export function celViolations(schema: Schema, value: unknown, path = ''): Violation[] {
  const out: Violation[] = [];
  walk(schema, value, path, (node, self, at) => {
    for (const rule of node['x-kubernetes-validations'] ?? []) {
      // Transition rules need the stored object; on create the apiserver skips them too.
      if (/\boldSelf\b/.test(rule.rule)) continue;
      const violation = celViolation(rule, self, at);
      if (violation) out.push(violation);
    }
  });
  return out;
}

/** Validates a custom resource of `kind` as the apiserver would before admission. */
export function validateStructure(kind: Kind, object: Record<string, unknown>): StructuralResult {
  const schema = schemas[kind];
  const defaulted = structuredClone(object);
  if (schema.properties?.status) delete defaulted.status; // create never sets status: the subresource does
  dropNulls(schema, defaulted);
  const validate = validatorFor(kind);
  const violations: Violation[] = validate(defaulted) ? [] : (validate.errors ?? []).map(fromAjv);
  walk(schema, defaulted, '', (node, value, path) => listUniqueness(node, value, path, violations));
  const blocking = (validate.errors ?? []).some((error) => BLOCKING.has(error.keyword));
  if (blocking) {
    violations.push({
      field: '',
      message:
        'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      rule: 'schema:blocking',
    });
  } else {
    violations.push(...celViolations(schema, defaulted));
  }
  return { violations, defaulted };
}
