// fast-check arbitraries for glob property tests: strings a pattern matches, and patterns that
// match a given string.

import fc from 'fast-check';

/** The letters the small-alphabet properties draw from (':' so that ARN segments appear). */
export const literalChar = fc.constantFrom('a', 'b', ':');

/** A concrete string matched by `glob`: each `*` filled with a literal run, each `?` with a character. */
export function matchedBy(glob: string): fc.Arbitrary<string> {
  const holes = [...glob].filter((c) => c === '*' || c === '?').length;
  return fc
    .array(fc.string({ unit: literalChar, maxLength: 3 }), { minLength: holes, maxLength: holes })
    .chain((runs) =>
      fc
        .array(literalChar, { minLength: holes, maxLength: holes })
        .map((chars) =>
          [...glob].map((c, i, all) => {
            const hole = all.slice(0, i).filter((x) => x === '*' || x === '?').length;
            if (c === '*') return runs[hole];
            if (c === '?') return chars[hole];
            return c;
          }),
        )
        .map((parts) => parts.join('')),
    );
}

/** A pattern that matches `text`: characters kept, or turned into `?`, or runs turned into `*`, plus empty `*`s. */
export function generalising(text: string): fc.Arbitrary<string> {
  const choice = fc.constantFrom('keep', 'keep', 'one', 'run', 'keep-then-empty-star');
  return fc.array(choice, { minLength: text.length, maxLength: text.length }).map((choices) => {
    let out = '';
    choices.forEach((c, i) => {
      if (c === 'one') out += '?';
      else if (c === 'run') out += out.endsWith('*') ? '' : '*';
      else out += c === 'keep' ? text[i] : `${text[i]}*`;
    });
    return out;
  });
}
