// The admission policy nhi-identity-controls, evaluated offline with @bufbuild/cel: the authorizer
// (which only the apiserver has) is stood in for by the verbs the requester holds. The real
// apiserver runs the same manifest in test/integration/tenancy/controls.test.ts.

import { describe, expect, it } from 'vitest';
import { evaluate } from '../../policies/cel.ts';
import {
  abandonValue,
  attestValue,
  Controls,
  ControlVerbs,
  lockValue,
  Marks,
  OperatorAnnotations,
} from './annotations.ts';
import {
  controlAuditAnnotations,
  controlsPolicy,
  controlValidations,
  controlVariables,
} from './controls-policy.ts';

const AUTHORIZER =
  /authorizer\.group\('nhi\.dev'\)\.resource\('agentidentities'\)\.namespace\(variables\.subject\.metadata\.namespace\)\.name\(variables\.subject\.metadata\.name\)\.check\('(\w+)'\)\.allowed\(\)/g;
const offline = (expression: string) => expression.replace(AUTHORIZER, "('$1' in allowedVerbs)");

type Meta = { annotations?: Record<string, string>; finalizers?: string[] };
interface Request {
  user: string;
  verbs: string[];
  old?: { metadata?: Meta; spec?: Record<string, unknown> };
  /** null: a DELETE of `old`. */
  object: { metadata?: Meta; spec?: Record<string, unknown> } | null;
  namespacePhase?: string;
}

const base = (metadata: Meta = {}, spec: Record<string, unknown> = {}) => ({
  metadata: { name: 'bot', namespace: 'team-a', ...metadata },
  spec: { environment: 'production', ...spec },
});

/** The messages of every validation that refuses the request (empty: admitted), and the audit annotations. */
function admit(request: Request): { refusals: string[]; audit: Record<string, string> } {
  const bindings: Record<string, unknown> = {
    object: request.object,
    oldObject: request.old ?? null,
    request: {
      operation: request.object === null ? 'DELETE' : request.old ? 'UPDATE' : 'CREATE',
      userInfo: { username: request.user },
    },
    namespaceObject: { metadata: { name: 'team-a' }, status: { phase: request.namespacePhase ?? 'Active' } },
    allowedVerbs: request.verbs,
  };
  const variables: Record<string, unknown> = {};
  for (const variable of controlVariables) {
    const outcome = evaluate(offline(variable.expression), { ...bindings, variables });
    if (!outcome.ok) throw new Error(`${variable.name}: ${outcome.error}`);
    variables[variable.name] = outcome.value;
  }
  const all = { ...bindings, variables };
  const refusals: string[] = [];
  for (const validation of controlValidations) {
    const outcome = evaluate(offline(validation.expression), all);
    if (!outcome.ok) throw new Error(`${validation.id}: ${outcome.error}`);
    if (outcome.value === true) continue;
    const message = evaluate(validation.messageExpression, all);
    if (!message.ok) throw new Error(`${validation.id} message: ${message.error}`);
    refusals.push(String(message.value));
  }
  const audit: Record<string, string> = {};
  for (const annotation of controlAuditAnnotations) {
    const outcome = evaluate(annotation.valueExpression, all);
    if (!outcome.ok) throw new Error(`${annotation.key}: ${outcome.error}`);
    if (outcome.value) audit[annotation.key] = String(outcome.value);
  }
  return { refusals, audit };
}

const EDITOR = 'system:serviceaccount:team-a:editor';
const SECURITY = 'alice@example.com';
const SECURITY_VERBS = ['lock', 'abandon', 'rotate'];
const at = new Date('2026-03-01T10:00:00Z');

const annotated = (annotations: Record<string, string>) => base({ annotations });

describe('nhi-identity-controls', () => {
  it('matches every CREATE and UPDATE of agentidentities, metadata-only updates included, with no params', () => {
    const spec = controlsPolicy().spec as Record<string, unknown>;
    expect(spec.failurePolicy).toBe('Fail');
    expect(spec.paramKind).toBeUndefined();
    expect(spec.matchConditions).toBeUndefined();
    expect(JSON.stringify(spec.matchConstraints)).toContain('"operations":["CREATE","UPDATE","DELETE"]');
  });

  it('guards every protected annotation with its verb, and names the annotation in the message', () => {
    for (const [annotation, verb] of Object.entries(ControlVerbs)) {
      const guard = controlValidations.find(
        (v) => v.field === `annotation ${annotation}` && v.expression.includes(`check('${verb}')`),
      );
      expect(guard, annotation).toBeDefined();
      expect(guard?.messageExpression).toContain(annotation);
    }
  });

  it.each([
    ['add a lock', annotated({ [Controls.lock]: lockValue(EDITOR, at) }), Controls.lock],
    [
      'set abandon-backends',
      annotated({ [Controls.abandonBackends]: abandonValue(['vault/v'], EDITOR) }),
      Controls.abandonBackends,
    ],
    [
      'request a rotation',
      annotated({ [Controls.rotateRequestedAt]: at.toISOString() }),
      Controls.rotateRequestedAt,
    ],
    [
      'set revocation-started',
      annotated({ [OperatorAnnotations.revocationStarted]: 'Expired: now' }),
      OperatorAnnotations.revocationStarted,
    ],
    ['set spec.locked', base({}, { locked: true }), 'spec.locked'],
    ['attest', annotated({ [Controls.attestRequest]: attestValue(EDITOR, at) }), Controls.attestRequest],
    ['keep credentials past the identity', base({}, { deletionPolicy: 'Retain' }), 'spec.deletionPolicy'],
  ])(
    'refuses a requester without the verb who tries to %s, on CREATE and on UPDATE',
    (_what, object, field) => {
      for (const old of [undefined, base()]) {
        const { refusals } = admit({ user: EDITOR, verbs: [], object, ...(old && { old }) });
        expect(
          refusals.some((m) => m.includes(field) && m.includes(EDITOR)),
          refusals.join('\n'),
        ).toBe(true);
      }
    },
  );

  it('admits going back from Retain to Delete, and keeping Retain, without the retain verb', () => {
    const old = base({}, { deletionPolicy: 'Retain' });
    expect(
      admit({ user: EDITOR, verbs: [], old, object: base({}, { deletionPolicy: 'Delete' }) }).refusals,
    ).toEqual([]);
    expect(
      admit({
        user: EDITOR,
        verbs: [],
        old,
        object: base({ annotations: { 'example.com/ticket': 'OPS-2' } }, { deletionPolicy: 'Retain' }),
      }).refusals,
    ).toEqual([]);
  });

  it('refuses removing or changing a lock without the lock verb', () => {
    const old = annotated({ [Controls.lock]: lockValue(SECURITY, at) });
    expect(admit({ user: EDITOR, verbs: [], old, object: base() }).refusals).toHaveLength(1);
    expect(
      admit({ user: EDITOR, verbs: [], old, object: annotated({ [Controls.lock]: lockValue(EDITOR, at) }) })
        .refusals,
    ).not.toEqual([]);
  });

  it('admits any other edit, and an update that leaves the controls as they were', () => {
    const old = annotated({ [Controls.lock]: lockValue(SECURITY, at), [Controls.rotateRequestedAt]: 'x' });
    const object = base(
      { annotations: { ...old.metadata.annotations, 'example.com/ticket': 'OPS-1' } },
      { purpose: 'changed' },
    );
    expect(admit({ user: EDITOR, verbs: [], old, object })).toEqual({ refusals: [], audit: {} });
  });

  it('admits the security role under its own name, and records who did what', () => {
    const lock = admit({
      user: SECURITY,
      verbs: SECURITY_VERBS,
      old: base(),
      object: annotated({ [Controls.lock]: lockValue(SECURITY, at, 'incident') }),
    });
    expect(lock).toEqual({ refusals: [], audit: { lock: `${SECURITY} locked team-a/bot` } });
    const unlock = admit({
      user: SECURITY,
      verbs: SECURITY_VERBS,
      old: annotated({ [Controls.lock]: lockValue('bob', at) }),
      object: base(),
    });
    expect(unlock).toEqual({ refusals: [], audit: { lock: `${SECURITY} unlocked team-a/bot` } });
    const abandon = admit({
      user: SECURITY,
      verbs: SECURITY_VERBS,
      old: base(),
      object: annotated({ [Controls.abandonBackends]: abandonValue(['vault/old'], SECURITY) }),
    });
    expect(abandon.refusals).toEqual([]);
    expect(abandon.audit['abandon-backends']).toContain(`${SECURITY} set ${Controls.abandonBackends}`);
  });

  it.each([
    ['a lock in another name', { [Controls.lock]: lockValue('bob', at) }, Controls.lock],
    ['a lock whose name is only a prefix of the user', { [Controls.lock]: 'alice at now' }, Controls.lock],
    [
      'an abandonment in another name',
      { [Controls.abandonBackends]: abandonValue(['vault/v'], 'bob') },
      Controls.abandonBackends,
    ],
  ])('refuses %s, even with the verb', (_what, annotations, field) => {
    const { refusals } = admit({
      user: SECURITY,
      verbs: SECURITY_VERBS,
      old: base(),
      object: annotated(annotations),
    });
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(`annotation ${field} must`);
    expect(refusals[0]).toContain(SECURITY);
  });

  it('admits an attestation only from a holder of the attest verb, in their own name, and records who', () => {
    const own = admit({
      user: SECURITY,
      verbs: ['attest'],
      old: base(),
      object: annotated({ [Controls.attestRequest]: attestValue(SECURITY, at, 'still needed') }),
    });
    expect(own).toEqual({ refusals: [], audit: { attest: `${SECURITY} attested team-a/bot` } });
    const forOther = admit({
      user: SECURITY,
      verbs: ['attest'],
      old: base(),
      object: annotated({ [Controls.attestRequest]: attestValue('the-sponsor', at) }),
    });
    expect(forOther.refusals).toEqual([
      expect.stringContaining(
        `annotation ${Controls.attestRequest} must begin with the requesting user's name`,
      ),
    ]);
    // The name is the user's, exactly: no words added before ' at ' (the audit names whoever that parses to).
    for (const [annotation, verb] of [
      [Controls.attestRequest, 'attest'],
      [Controls.lock, 'lock'],
    ] as const) {
      const padded = admit({
        user: SECURITY,
        verbs: [verb],
        old: base(),
        object: annotated({ [annotation]: `${SECURITY} (for the CISO) at ${at.toISOString()}` }),
      });
      expect(padded.refusals, annotation).toHaveLength(1);
    }
    // The operator removes a recorded request: removal needs the verb, not a name.
    const cleared = admit({
      user: 'system:serviceaccount:nhi-system:nhi-operator',
      verbs: ['attest', 'revoke'],
      old: annotated({ [Controls.attestRequest]: attestValue(SECURITY, at) }),
      object: base(),
    });
    expect(cleared).toEqual({ refusals: [], audit: {} });
  });

  it('keeps revocation-started for the revoke verb, which the security role lacks', () => {
    const object = annotated({ [OperatorAnnotations.revocationStarted]: 'Expired: now' });
    expect(admit({ user: SECURITY, verbs: SECURITY_VERBS, old: base(), object }).refusals).toHaveLength(1);
    expect(
      admit({ user: 'system:serviceaccount:nhi-system:nhi-operator', verbs: ['revoke'], old: base(), object })
        .refusals,
    ).toEqual([]);
  });

  it('declares variables before they are used', () => {
    controlVariables.forEach((variable, index) => {
      for (const later of controlVariables.slice(index))
        expect(variable.expression, variable.name).not.toMatch(new RegExp(`\\bvariables\\.${later.name}\\b`));
    });
  });

  it('refuses removing the finalizer without the operator verb, which would skip revocation', () => {
    const old = base({ finalizers: [Marks.finalizer] });
    const removed = base({ finalizers: [] });
    expect(admit({ user: EDITOR, verbs: ['update', 'patch'], old, object: removed }).refusals).toEqual([
      expect.stringContaining(`finalizer ${Marks.finalizer}`),
    ]);
    expect(
      admit({
        user: 'system:serviceaccount:nhi-system:nhi-operator',
        verbs: ['revoke'],
        old,
        object: removed,
      }).refusals,
    ).toEqual([]);
  });

  it('refuses deleting a locked identity without the lock verb, unless its namespace is being deleted', () => {
    const locked = annotated({ [Controls.lock]: lockValue(SECURITY, at) });
    expect(admit({ user: EDITOR, verbs: ['delete'], old: locked, object: null }).refusals).toEqual([
      expect.stringContaining(`annotation ${Controls.lock}`),
    ]);
    expect(
      admit({ user: EDITOR, verbs: ['delete'], old: base({}, { locked: true }), object: null }).refusals,
    ).toHaveLength(1);
    expect(
      admit({ user: SECURITY, verbs: ['delete', ...SECURITY_VERBS], old: locked, object: null }).refusals,
    ).toEqual([]);
    expect(admit({ user: EDITOR, verbs: ['delete'], old: base(), object: null }).refusals).toEqual([]);
    expect(
      admit({
        user: 'system:serviceaccount:kube-system:namespace-controller',
        verbs: ['delete'],
        old: locked,
        object: null,
        namespacePhase: 'Terminating',
      }).refusals,
    ).toEqual([]);
  });
});
