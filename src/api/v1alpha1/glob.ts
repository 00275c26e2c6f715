// Glob overlap as generated CEL: "could one concrete string be matched by both of these
// patterns?", where `*` is any run of characters (including none), `?` exactly one, and all else
// literal, as in IAM actions and resource ARNs. Written once here and used by the
// ValidatingAdmissionPolicy (the apiserver's CEL), by `nhictl lint` and by the operator's re-check
// (both @bufbuild/cel through src/policies/cel.ts), so all three give the same answer.
//
// Only functions both evaluators have are used: size, contains, startsWith, endsWith and (for
// ARNs) matches, standard CEL with RE2 syntax in both; replace, split, lastIndexOf and substring
// from the cel-go strings extension (all four in its version 0; the apiserver loads version 2
// since Kubernetes 1.29). No comprehension: the result is cheap to nest inside the `all`/`exists`
// that walk the requested and the forbidden lists.
//
// globsMayOverlapCel is SOUND (never false when the patterns overlap) and tight but not exact:
//  - `?` is read as `*` for the prefix and suffix tests (it only widens what a pattern matches);
//    the length test still counts it as one character;
//  - with `*` on both sides and no `?` the prefix and suffix tests are exact: if the literal
//    prefixes before the first wildcard agree (one is a prefix of the other) and so do the literal
//    suffixes after the last, longerPrefix + middles(a) + middles(b) + longerSuffix matches both;
//  - with `*` on one side only, that side's middle segments are not searched for in the literal
//    (so `a*x*c` and `ayyc` count as overlapping).
// Case is the caller's: pass `lowerAscii()`'d values where the matching is case-insensitive.
// Bind the operands to short names (comprehension variables): each is repeated about ten times.

/** Parenthesised unless it is a plain name or field path (`a`, `s.path`), to keep the text short. */
const wrap = (expression: string) => (/^[A-Za-z_][\w.]*$/.test(expression) ? expression : `(${expression})`);

/** A CEL string literal for `text`. */
const celString = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** `'...'` without escapes: a pattern known while generating, whose facts are folded to literals. */
const KNOWN_PATTERN = /^'([^'\\]*)'$/;

/** What the overlap test reads from one pattern, each as CEL text. */
interface Facts {
  /** Known here and free of wildcards: its prefix and suffix are the whole pattern. */
  plain: boolean;
  /** Whether it has a `*` (its matches have no upper length). */
  unbounded: string;
  /** The length of its shortest match: each literal and `?` counts one. */
  shortest: string;
  /** Literal text before the first wildcard (the whole pattern when it has none). */
  prefix: string;
  /** Literal text after the last wildcard (the whole pattern when it has none). */
  suffix: string;
}

function factsOf(expression: string): Facts {
  const known = KNOWN_PATTERN.exec(expression)?.[1];
  if (known !== undefined) {
    const starred = known.replaceAll('?', '*');
    return {
      plain: !/[*?]/.test(known),
      unbounded: String(known.includes('*')),
      shortest: String([...known.replaceAll('*', '')].length),
      prefix: celString(starred.split('*')[0] ?? ''),
      suffix: celString(starred.slice(starred.lastIndexOf('*') + 1)),
    };
  }
  const p = wrap(expression);
  const starred = `${p}.replace('?', '*')`;
  return {
    plain: false,
    unbounded: `${p}.contains('*')`,
    shortest: `${p}.replace('*', '').size()`,
    prefix: `${starred}.split('*')[0]`,
    // lastIndexOf is -1 without a wildcard, so the substring is the whole pattern.
    suffix: `${starred}.substring(${starred}.lastIndexOf('*') + 1)`,
  };
}

const either = (x: string, y: string) =>
  x === 'true' || y === 'true' ? 'true' : x === 'false' ? y : `(${x} || ${y})`;

/** `x <= y` for lengths; a shortest match of 0 is never too long. */
const atMost = (x: string, y: string) => (x === '0' ? 'true' : `${x} <= ${y}`);

/**
 * One literal part starts (`startsWith`) or ends (`endsWith`) with the other; '' always does.
 * A plain pattern matches only itself, so the other's part must be inside it: one direction.
 */
function nested(fn: 'startsWith' | 'endsWith', x: Facts, y: Facts, part: 'prefix' | 'suffix'): string {
  const [a, b] = [x[part], y[part]];
  if (a === "''" || b === "''") return 'true';
  if (y.plain) return `${b}.${fn}(${a})`;
  if (x.plain) return `${a}.${fn}(${b})`;
  return `(${a}.${fn}(${b}) || ${b}.${fn}(${a}))`;
}

function overlapOf(p: Facts, q: Facts): string {
  const terms = [
    either(q.unbounded, atMost(p.shortest, q.shortest)),
    either(p.unbounded, atMost(q.shortest, p.shortest)),
    nested('startsWith', p, q, 'prefix'),
    nested('endsWith', p, q, 'suffix'),
  ].filter((term) => term !== 'true');
  return terms.length === 0 ? 'true' : `(${terms.join(' && ')})`;
}

/**
 * A CEL boolean expression that is true whenever some string is matched by both glob patterns
 * `a` and `b` (CEL expressions yielding strings; a plain `'literal'` is folded in). Sound;
 * conservative only as described above.
 */
export function globsMayOverlapCel(a: string, b: string): string {
  return overlapOf(factsOf(a), factsOf(b));
}

const REGEX_SPECIAL = /[\\.+*?()|[\]{}^$]/g;

/** RE2 for one character of a target pattern whose wildcards stay within a segment. */
const segmentToken = (c: string) =>
  c === '*' ? '[^:]*' : c === '?' ? '[^:]' : c.replace(REGEX_SPECIAL, '\\$&');

/** RE2 for every prefix of a string `target` matches (a wildcard's partial match is still one). */
function prefixesRegex(target: string): string {
  return `^${[...target].reduceRight((rest, c) => `(?:${segmentToken(c)}${rest})?`, '')}$`;
}

/** RE2 for every suffix of a string `target` matches. */
function suffixesRegex(target: string): string {
  return `^${[...target].reduce((rest, c) => `(?:${rest}${segmentToken(c)})?`, '')}$`;
}

/**
 * A CEL boolean expression that is true whenever resource pattern `requested` (a CEL string
 * expression, an IAM resource glob whose `*` may cross colons, as IAM lets a segment's trailing
 * `*` do) matches some ARN of the shape `target` (known here) describes, where target's wildcards
 * stand for text within one colon-separated segment, as in real ARNs whose segments hold no colon
 * (Secrets Manager names cannot contain one). Sound, and tighter than globsMayOverlapCel on the
 * whole ARN, which must let `arn:aws:secretsmanager:*:*:secret:crm/*` overlap
 * `arn:aws:secretsmanager:*:*:secret:nhi/*`: both match `arn:aws:secretsmanager:r:a:secret:crm/:b:secret:nhi/`,
 * which no real secret's ARN looks like. By requested's number of colon-separated segments:
 *  - as many segments as target: its colons are the ARN's, so segments pair up and each pair must
 *    overlap (globsMayOverlapCel; target segments that are `*` are skipped);
 *  - fewer: its wildcards cover some colons, so only its literal prefix and suffix are checked,
 *    against the prefixes and suffixes of target's ARNs (`matches`);
 *  - more: it matches no such ARN.
 */
export function arnGlobMayReachCel(requested: string, target: string): string {
  const r = wrap(requested);
  const segments = target.split(':');
  const count = `${r}.split(':').size()`;
  const pairs = segments
    .map((segment, i) => globsMayOverlapCel(`${r}.split(':')[${i}]`, celString(segment)))
    .filter((term) => term !== 'true');
  const { prefix, suffix } = factsOf(r);
  const ends = [
    `${r}.replace('?', '*').contains('*')`,
    `${prefix}.matches(${celString(prefixesRegex(target))})`,
    `${suffix}.matches(${celString(suffixesRegex(target))})`,
  ];
  const whenEqual = pairs.length === 0 ? 'true' : pairs.join(' && ');
  return `(${count} == ${segments.length} ? ${whenEqual} : ${count} < ${segments.length} && ${ends.join(' && ')})`;
}
