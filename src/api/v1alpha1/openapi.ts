// A small vocabulary for writing Kubernetes structural OpenAPI v3 schemas in TypeScript.
// The schemas in schema.ts are built from these helpers; crds.ts turns them into CRDs and
// src/policies/ evaluates the very same objects offline (ajv + CEL) for `nhictl lint`.

/** Reasons a CEL rule may report; they become the field error type in the apiserver's answer. */
export type RuleReason =
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate';

/**
 * One `x-kubernetes-validations` entry. `id` names the rule in `nhictl lint` output and tests;
 * it is ours, not Kubernetes', and is stripped when the CRD is written.
 */
export interface CelRule {
  id: string;
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: RuleReason;
}

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  enum?: readonly string[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** Go duration syntax, as accepted by CEL's duration() and time.ParseDuration. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';
/** RFC 1123 label: the shape of namespace, label-value-safe and Secret key names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A namespace name, or a prefix of one ending in `*` (team-a-*), or `*` alone. */
export const NAMESPACE_OR_PREFIX_PATTERN = `${DNS_LABEL_PATTERN}|^[a-z0-9][-a-z0-9]*\\*$|^\\*$`;
/** RFC 1123 subdomain: the shape of most Kubernetes object names. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

interface StringOptions {
  maxLength: number;
  minLength?: number;
  pattern?: string;
  default?: string;
  rules?: CelRule[];
}

export function str(description: string, options: StringOptions): Schema {
  const { rules, ...rest } = options;
  return { type: 'string', description, ...rest, ...(rules ? { 'x-kubernetes-validations': rules } : {}) };
}

export function oneOf(description: string, values: readonly string[], defaultValue?: string): Schema {
  return {
    type: 'string',
    description,
    enum: values,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  };
}

export function dnsLabel(description: string): Schema {
  return str(description, { maxLength: 63, minLength: 1, pattern: DNS_LABEL_PATTERN });
}

export function dnsSubdomain(description: string): Schema {
  return str(description, { maxLength: 253, minLength: 1, pattern: DNS_SUBDOMAIN_PATTERN });
}

export function int(
  description: string,
  options: { minimum?: number; maximum?: number; default?: number; format?: 'int32' | 'int64' } = {},
): Schema {
  return { type: 'integer', description, ...options };
}

export function bool(description: string, defaultValue?: boolean): Schema {
  return { type: 'boolean', description, ...(defaultValue === undefined ? {} : { default: defaultValue }) };
}

/** An RFC 3339 timestamp, as Kubernetes writes them in status. */
export function timestamp(description: string): Schema {
  return { type: 'string', description, format: 'date-time', maxLength: 64 };
}

/**
 * CEL: `expr` is a well-formed duration. Rules that call duration() check this first, so a
 * malformed value is reported once, by the schema pattern, instead of as a CEL evaluation error.
 */
export function isDuration(expr: string): string {
  return `${expr}.matches(r'${DURATION_PATTERN}')`;
}

interface DurationOptions {
  default?: string;
  /** Inclusive bounds, in Go duration syntax; each becomes a CEL rule naming the bound. */
  min?: string;
  max?: string;
}

export function duration(description: string, options: DurationOptions = {}): Schema {
  const rules: CelRule[] = [];
  if (options.min !== undefined) {
    rules.push({
      id: 'duration-min',
      rule: `!${isDuration('self')} || duration(self) >= duration('${options.min}')`,
      messageExpression: `'must be at least ${options.min}, got ' + self`,
    });
  }
  if (options.max !== undefined) {
    rules.push({
      id: 'duration-max',
      rule: `!${isDuration('self')} || duration(self) <= duration('${options.max}')`,
      messageExpression: `'must be at most ${options.max}, got ' + self`,
    });
  }
  return {
    type: 'string',
    description: [
      description,
      'Go duration syntax, e.g. 90m, 24h, 1h30m.',
      options.default === undefined ? '' : `Default ${options.default}.`,
      options.max === undefined ? '' : `At most ${options.max}.`,
    ]
      .filter(Boolean)
      .join(' '),
    pattern: DURATION_PATTERN,
    maxLength: 64,
    ...(options.default === undefined ? {} : { default: options.default }),
    ...(rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
  };
}

interface ObjectOptions {
  required?: string[];
  rules?: CelRule[];
  minProperties?: number;
}

export function obj(
  description: string,
  properties: Record<string, Schema>,
  options: ObjectOptions = {},
): Schema {
  return {
    type: 'object',
    description,
    properties,
    ...(options.required && options.required.length > 0 ? { required: options.required } : {}),
    ...(options.minProperties === undefined ? {} : { minProperties: options.minProperties }),
    ...(options.rules ? { 'x-kubernetes-validations': options.rules } : {}),
  };
}

interface ListOptions {
  maxItems: number;
  minItems?: number;
  listType?: 'atomic' | 'set' | 'map';
  mapKeys?: string[];
  rules?: CelRule[];
}

export function list(description: string, items: Schema, options: ListOptions): Schema {
  return {
    type: 'array',
    description,
    items,
    maxItems: options.maxItems,
    ...(options.minItems === undefined ? {} : { minItems: options.minItems }),
    ...(options.listType ? { 'x-kubernetes-list-type': options.listType } : {}),
    ...(options.mapKeys ? { 'x-kubernetes-list-map-keys': options.mapKeys } : {}),
    ...(options.rules ? { 'x-kubernetes-validations': options.rules } : {}),
  };
}

/**
 * A transition rule: once stored, the value never changes (`self == oldSelf`; the apiserver runs it on
 * updates only, and only when the old object had the field). Pair an optional field with `staysSet`
 * on its parent, or removing it would slip past.
 */
export function immutable(schema: Schema, message: string): Schema {
  const rule: CelRule = { id: 'immutable', rule: 'self == oldSelf', message };
  return { ...schema, 'x-kubernetes-validations': [...(schema['x-kubernetes-validations'] ?? []), rule] };
}

/** A transition rule on an object: its optional `field`, once set, is not removed. */
export function staysSet(field: string, message: string): CelRule {
  return {
    id: `${field}-stays-set`,
    rule: `!has(oldSelf.${field}) || has(self.${field})`,
    message,
    fieldPath: `.${field}`,
    reason: 'FieldValueForbidden',
  };
}

/** metav1.LabelSelector: matchLabels and matchExpressions, all of which must hold. */
export function labelSelector(description: string): Schema {
  const labelValue = str('A label value.', { maxLength: 63 });
  return obj(description, {
    matchLabels: {
      type: 'object',
      description: 'Labels the object must carry with exactly these values.',
      additionalProperties: labelValue,
      maxProperties: 64,
    },
    matchExpressions: list(
      'Requirements on labels: In and NotIn take values, Exists and DoesNotExist none.',
      obj(
        'One requirement.',
        {
          key: str('The label key.', { maxLength: 317, minLength: 1 }),
          operator: oneOf('How the key relates to the values.', ['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: list('Values of the label.', labelValue, { maxItems: 64, listType: 'atomic' }),
        },
        {
          required: ['key', 'operator'],
          rules: [
            {
              id: 'selector-values-match-operator',
              rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
              message: 'In and NotIn need values; Exists and DoesNotExist take none',
              fieldPath: '.values',
            },
          ],
        },
      ),
      { maxItems: 16, listType: 'atomic' },
    ),
  });
}

/** The top-level shape every custom resource shares: apiVersion, kind, metadata, spec, status. */
export function resource(
  description: string,
  spec: Schema,
  status?: Schema,
  rules?: CelRule[],
  required: string[] = ['spec'],
): Schema {
  return obj(
    description,
    {
      apiVersion: str(
        'APIVersion defines the versioned schema of this representation of an object. Servers convert recognized schemas to the latest internal value.',
        { maxLength: 253 },
      ),
      kind: str(
        'Kind is a string value representing the REST resource this object represents. In CamelCase.',
        { maxLength: 63 },
      ),
      // The apiserver forbids anything but the type here; kubectl explain shows ObjectMeta.
      metadata: { type: 'object' },
      spec,
      ...(status ? { status } : {}),
    },
    { required, ...(rules ? { rules } : {}) },
  );
}

/** The schema with our rule ids removed: exactly what the apiserver is given. */
export function toKubernetesSchema(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'x-kubernetes-validations') {
      out[key] = (value as CelRule[]).map(({ id: _id, ...rule }) => rule);
    } else if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [
          name,
          toKubernetesSchema(child),
        ]),
      );
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = toKubernetesSchema(value as Schema);
    } else {
      out[key] = value;
    }
  }
  return out;
}
