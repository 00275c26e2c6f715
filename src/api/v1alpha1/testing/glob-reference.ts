// Exact glob semantics in TypeScript, the yardstick the generated CEL in ../glob.ts is tested
// against. Test-only: the operator itself never decides with these.
//
// `*` matches any run of characters, `?` exactly one, the rest is literal. `confined`, when given,
// is a character the pattern's wildcards never match (':' for an ARN shape whose wildcards stay
// inside one segment).

const isWild = (c: string | undefined) => c === '*' || c === '?';

/** Does glob `pattern` match `text`? */
export function globMatches(pattern: string, text: string, confined?: string): boolean {
  // reachable[j]: the pattern read so far can match text.slice(0, j).
  let reachable = Array.from({ length: text.length + 1 }, (_, j) => j === 0);
  for (const c of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    for (let j = 0; j <= text.length; j++) {
      const t = text[j - 1];
      const wildOk = t !== confined;
      if (c === '*') next[j] = reachable[j] === true || (j > 0 && wildOk && next[j - 1] === true);
      else next[j] = j > 0 && reachable[j - 1] === true && (c === '?' ? wildOk : c === t);
    }
    reachable = next;
  }
  return reachable[text.length] === true;
}

/**
 * Is some string matched by both globs (by `b` with its wildcards confined, when `bConfined` is
 * given)? Exact: a search over the product of the two patterns' automata, where state (i, j)
 * means a[0..i) and b[0..j) can match one common string.
 */
export function globsOverlap(a: string, b: string, bConfined?: string): boolean {
  const seen = new Set<number>();
  const key = (i: number, j: number) => i * (b.length + 1) + j;
  const stack: Array<[number, number]> = [[0, 0]];
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    if (seen.has(key(i, j))) continue;
    seen.add(key(i, j));
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    // A `*` may match nothing.
    if (x === '*') stack.push([i + 1, j]);
    if (y === '*') stack.push([i, j + 1]);
    if (x === undefined || y === undefined) continue;
    // Both read one common character: a `*` stays put, anything else moves on. The character is
    // x or y when literal, any (other than the confined one) when both are wildcards.
    const common = isWild(x) ? (isWild(y) ? undefined : y) : x;
    const agrees = isWild(x) || isWild(y) ? true : x === y;
    const confinedOk = !isWild(y) || bConfined === undefined || common !== bConfined;
    if (agrees && confinedOk) stack.push([x === '*' ? i : i + 1, y === '*' ? j : j + 1]);
  }
  return false;
}
