import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { evaluate, evaluateRule } from '../../policies/cel.ts';
import { arnGlobMayReachCel, globsMayOverlapCel } from './glob.ts';
import { generalising, literalChar, matchedBy } from './testing/glob-arbitraries.ts';
import { GLOB_OVERLAP_CASES, MANAGED_ARN, MANAGED_ARN_REACH_CASES } from './testing/glob-cases.ts';
import { globMatches, globsOverlap } from './testing/glob-reference.ts';

const MAY_OVERLAP = globsMayOverlapCel('a', 'b');

/** The generated matcher's answer for (a, b), through the same evaluator as lint and the re-check. */
function mayOverlap(a: string, b: string): boolean {
  const outcome = evaluateRule(MAY_OVERLAP, { a, b });
  if (!outcome.ok) throw new Error(`CEL failed for ${JSON.stringify([a, b])}: ${outcome.error}`);
  return outcome.value as boolean;
}

const literal = fc.string({ unit: literalChar, maxLength: 8 });
const pattern = fc.string({ unit: fc.constantFrom('a', 'b', ':', '*', '?'), maxLength: 8 });

/**
 * Property runs: a fifth of the named count in the everyday suite (seconds on a busy 2-core machine),
 * the full count with NHI_PROPERTY_RUNS=full (a longer search before a release).
 */
const runs = (full: number) => (process.env.NHI_PROPERTY_RUNS === 'full' ? full : Math.ceil(full / 5));
vi.setConfig({ testTimeout: 60_000 });

describe('the CEL functions the matcher uses, in @bufbuild/cel with the strings extension', () => {
  // The same calls behave this way in cel-go's ext.Strings (documented examples there), which the
  // apiserver loads; test/integration/api/glob.test.ts runs the matcher itself in kube-apiserver.
  it.each([
    ["'sts:assumerol?'.replace('?', '*')", 'sts:assumerol*'],
    ["'a?b?'.replace('?', '*')", 'a*b*'],
    ["'a*b*c'.replace('*', '')", 'abc'],
    ["'s3:get'.split('*')", ['s3:get']],
    ["'s3:get*'.split('*')", ['s3:get', '']],
    ["''.split('*')", ['']],
    ["'*x'.split('*')[0]", ''],
    ["'a*b*c'.lastIndexOf('*')", 3],
    ["'abc'.lastIndexOf('*')", -1],
    ["'abc'.substring(0)", 'abc'],
    ["'abc'.substring(3)", ''],
    ["'a*bc'.substring('a*bc'.lastIndexOf('*') + 1)", 'bc'],
    // Beyond the BMP: @bufbuild/cel counts UTF-16 units and cel-go code points in lastIndexOf and
    // substring, but each consistently, so the suffix after the last `*` is the same text.
    ["'\u{1F600}*x'.substring('\u{1F600}*x'.lastIndexOf('*') + 1)", 'x'],
    ["'\u{1F600}?'.replace('*', '').size()", 2],
    ["'iam:*'.contains('*')", true],
    ["'iam:'.startsWith('')", true],
    ["'iam:createuser'.startsWith('iam:')", true],
    ["'arn:x:secret'.endsWith('secret')", true],
    ["''.endsWith('')", true],
  ])('%s == %j', (expression, expected) => {
    expect(evaluate(expression, {})).toEqual({ ok: true, value: expected });
  });
});

describe('the exact reference', () => {
  it('matches as a regular expression would', () => {
    fc.assert(
      fc.property(pattern, literal, (glob, text) => {
        const regex = new RegExp(`^${glob.replaceAll('*', '.*').replaceAll('?', '.')}$`, 's');
        expect(globMatches(glob, text)).toBe(regex.test(text));
      }),
      { numRuns: runs(2000) },
    );
  });

  it('finds an overlap exactly when a witness string exists', () => {
    // A shortest common string is at most |a| + |b| long and needs only the patterns' letters
    // and one other (every character step advances one of the patterns), so this search is complete.
    const small = fc.string({ unit: fc.constantFrom('a', ':', '*', '?'), maxLength: 3 });
    const candidates = [''];
    for (let i = 0; i < candidates.length; i++) {
      const w = candidates[i] ?? '';
      if (w.length < 6) candidates.push(`${w}a`, `${w}:`, `${w}c`);
    }
    fc.assert(
      fc.property(small, small, fc.constantFrom(undefined, ':'), (a, b, confined) => {
        const witness = candidates.some(
          (w) => w.length <= a.length + b.length && globMatches(a, w) && globMatches(b, w, confined),
        );
        expect(globsOverlap(a, b, confined)).toBe(witness);
      }),
      { numRuns: runs(500) },
    );
  });
});

describe('globsMayOverlapCel', () => {
  it('is sound: true whenever the exact reference finds a common string', () => {
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        if (globsOverlap(a, b)) expect(mayOverlap(a, b)).toBe(true);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('refuses a requested pattern whenever some string it matches is forbidden', () => {
    const forbiddenAndRequested = pattern.chain((forbidden) =>
      matchedBy(forbidden).chain((text) =>
        generalising(text).map((requested) => ({ forbidden, text, requested })),
      ),
    );
    fc.assert(
      fc.property(forbiddenAndRequested, ({ forbidden, text, requested }) => {
        expect(globMatches(forbidden, text) && globMatches(requested, text)).toBe(true);
        expect(mayOverlap(requested, forbidden)).toBe(true);
        expect(mayOverlap(forbidden, requested)).toBe(true);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('refuses any pattern over a managed secret ARN when the managed ARNs are the forbidden glob', () => {
    const managed = 'arn:aws:secretsmanager:*:*:secret:nhi/*';
    const segment = fc.string({ unit: fc.constantFrom('a', '1', '-', '/', 'n', 'h', 'i'), maxLength: 6 });
    const managedArn = fc
      .tuple(segment, segment, segment)
      .map(([region, account, rest]) => `arn:aws:secretsmanager:${region}:${account}:secret:nhi/${rest}`);
    fc.assert(
      fc.property(
        managedArn.chain((arn) => generalising(arn)),
        (requested) => {
          expect(mayOverlap(requested, managed)).toBe(true);
        },
      ),
      { numRuns: runs(2000) },
    );
  });

  it('is equality for literals', () => {
    fc.assert(
      fc.property(literal, literal, (a, b) => {
        expect(mayOverlap(a, b)).toBe(a === b);
      }),
      { numRuns: runs(2000) },
    );
    fc.assert(
      fc.property(literal, (a) => {
        expect(mayOverlap(a, a)).toBe(true);
      }),
      { numRuns: runs(200) },
    );
  });

  it('is exact when both patterns have a `*` and neither has a `?`', () => {
    const starred = fc
      .tuple(fc.string({ unit: fc.constantFrom('a', 'b', ':', '*'), maxLength: 7 }), fc.nat(7))
      .map(([text, at]) => `${text.slice(0, at)}*${text.slice(at)}`);
    fc.assert(
      fc.property(starred, starred, (a, b) => {
        expect(mayOverlap(a, b)).toBe(globsOverlap(a, b));
      }),
      { numRuns: runs(3000) },
    );
  });

  it('answers the same when one pattern is a literal folded in while generating', () => {
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        const folded = evaluateRule(globsMayOverlapCel('a', `'${b}'`), { a });
        expect(folded).toEqual({ ok: true, value: mayOverlap(a, b) });
      }),
      { numRuns: runs(2000) },
    );
  });

  it('counts `?` as exactly one character', () => {
    expect(mayOverlap('?', 'ab')).toBe(false);
    expect(mayOverlap('a??', 'ab')).toBe(false);
    expect(mayOverlap('??*', 'a')).toBe(false);
    expect(mayOverlap('??', 'ab')).toBe(true);
  });

  it.each(GLOB_OVERLAP_CASES)('%s against %s → %s', (a, b, expected) => {
    expect(mayOverlap(a, b)).toBe(expected);
    expect(mayOverlap(b, a)).toBe(expected);
    expect(globsOverlap(a, b)).toBe(expected);
  });

  it('takes any string expressions, not only names', () => {
    const rule = globsMayOverlapCel('request.action.lowerAscii()', "'iam:*'");
    expect(evaluateRule(rule, { request: { action: 'IAM:CreateUser' } })).toEqual({ ok: true, value: true });
    expect(evaluateRule(rule, { request: { action: 'S3:GetObject' } })).toEqual({ ok: true, value: false });
  });

  it('stays small enough to inline in a comprehension', () => {
    expect(MAY_OVERLAP.length).toBeLessThan(700);
    expect(MAY_OVERLAP).not.toMatch(/\b(all|exists|exists_one|map|filter)\(/);
  });
});

describe('arnGlobMayReachCel', () => {
  function mayReach(requested: string, target: string): boolean {
    const outcome = evaluateRule(arnGlobMayReachCel('r', target), { r: requested });
    if (!outcome.ok)
      throw new Error(`CEL failed for ${JSON.stringify([requested, target])}: ${outcome.error}`);
    return outcome.value as boolean;
  }

  const segment = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 3 });
  const target = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => segments.join(':'));

  it('is sound: true whenever the requested glob matches some string of the target shape', () => {
    fc.assert(
      fc.property(pattern, target, (requested, shape) => {
        if (globsOverlap(requested, shape, ':')) expect(mayReach(requested, shape)).toBe(true);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('refuses a requested pattern whenever some ARN of the shape it matches is the target', () => {
    const cases = target.chain((shape) =>
      matchedBy(shape)
        .filter((text) => globMatches(shape, text, ':'))
        .chain((text) => generalising(text).map((requested) => ({ shape, text, requested }))),
    );
    fc.assert(
      fc.property(cases, ({ shape, requested }) => {
        expect(mayReach(requested, shape)).toBe(true);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('refuses any pattern generalised from a managed secret ARN', () => {
    const part = fc.string({ unit: fc.constantFrom('a', '1', '-', '/', 'n', 'h', 'i'), maxLength: 6 });
    const managedArn = fc
      .tuple(fc.constantFrom('aws', 'aws-cn', 'aws-us-gov'), part, part, part)
      .map(
        ([partition, region, account, rest]) =>
          `arn:${partition}:secretsmanager:${region}:${account}:secret:nhi/${rest}`,
      );
    fc.assert(
      fc.property(
        managedArn.chain((arn) => generalising(arn)),
        (requested) => {
          expect(mayReach(requested, MANAGED_ARN)).toBe(true);
        },
      ),
      { numRuns: runs(3000) },
    );
  });

  it.each(MANAGED_ARN_REACH_CASES)('%s → %s', (requested, expected) => {
    expect(mayReach(requested, MANAGED_ARN)).toBe(expected);
    // The exact answer, for the record of how tight the generated test is on these.
    expect(globsOverlap(requested, MANAGED_ARN, ':')).toBe(expected);
  });
});
