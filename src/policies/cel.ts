// Offline evaluation of the Kubernetes CEL expressions in our CRDs and admission policy, with
// @bufbuild/cel. The rules are written for the subset both evaluators share (see
// src/api/v1alpha1/admission-policy.ts); this module only adapts values the way the apiserver
// does: JSON integers are CEL ints, objects are maps, lists are lists.

import { type CelInput, celEnv, isCelError, isCelList, isCelMap, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';

export type CelOutcome = { ok: true; value: unknown } | { ok: false; error: string };

type Program = ReturnType<typeof plan>;

const env = celEnv({ funcs: strings });
const programs = new Map<string, Program | Error>();

function compile(expression: string): Program | Error {
  let program = programs.get(expression);
  if (!program) {
    try {
      program = plan(env, parse(expression));
    } catch (error) {
      program = error instanceof Error ? error : new Error(String(error));
    }
    programs.set(expression, program);
  }
  return program;
}

/** JSON value -> CEL input: integers become CEL ints (bigint) as in the apiserver. */
export function toCel(value: unknown): CelInput {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, toCel(child)])) as CelInput;
  }
  return value as CelInput;
}

/** CEL value -> plain JSON-ish value, for variables passed on to later expressions and for messages. */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of value.entries()) out[String(key)] = fromCel(child);
    return out;
  }
  return value;
}

/**
 * Evaluates `expression` with the given variables (already CEL inputs or plain JSON values).
 * Never throws: parse and evaluation errors come back as `{ ok: false }`.
 */
export function evaluate(expression: string, bindings: Record<string, unknown>): CelOutcome {
  const program = compile(expression);
  if (program instanceof Error) return { ok: false, error: `compile error: ${program.message}` };
  try {
    const input = Object.fromEntries(Object.entries(bindings).map(([name, value]) => [name, toCel(value)]));
    const result = program(input);
    if (isCelError(result)) return { ok: false, error: result.message };
    return { ok: true, value: fromCel(result) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Evaluates a rule that must yield a boolean; anything else is reported as an error. */
export function evaluateRule(expression: string, bindings: Record<string, unknown>): CelOutcome {
  const outcome = evaluate(expression, bindings);
  if (outcome.ok && typeof outcome.value !== 'boolean') {
    return { ok: false, error: `rule returned ${typeof outcome.value}, not bool` };
  }
  return outcome;
}

/** Evaluates a messageExpression; falls back to `fallback` when it fails or is not a string. */
export function evaluateMessage(
  expression: string,
  bindings: Record<string, unknown>,
  fallback: string,
): string {
  const outcome = evaluate(expression, bindings);
  return outcome.ok && typeof outcome.value === 'string' && outcome.value.trim() !== ''
    ? outcome.value
    : fallback;
}
