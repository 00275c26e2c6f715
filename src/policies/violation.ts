/** One reason an object is not admitted. Messages name the field and the limit, never a secret value. */
export interface Violation {
  /** Path of the offending field, e.g. spec.scopes[0].actions; empty for the object as a whole. */
  field: string;
  message: string;
  /**
   * Which rule: `schema:<keyword>` (OpenAPI schema), `cel:<id>` (a CRD x-kubernetes-validations
   * rule), `policy:<id>` (the ValidatingAdmissionPolicy), `meta:<check>` (built-in apiserver
   * checks), `operator:<id>` (checks only the operator can make).
   */
  rule: string;
}

/** `spec` + `scopes` -> `spec.scopes`; `spec.scopes` + 0 -> `spec.scopes[0]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** The violation as one line, `field: message`. */
export function describe(violation: Violation): string {
  return violation.field === '' ? violation.message : `${violation.field}: ${violation.message}`;
}
