// The operator as its image runs it: src/main.ts and every production dependency in one ES module,
// built with esbuild. Only the code the operator reaches is kept (client-node's generated API alone
// is most of what the unbundled process loads), so a process starts with about half the heap of the
// tsc output beside node_modules (BENCHMARKS.md, (f)). Whitespace and syntax are minified; names are
// kept, so stack traces in the log still read. The output is ASCII (bundle.test.ts). The npm
// package and nhictl run tsc's dist/ as before.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Esbuild from 'esbuild';
import { repoRoot } from './components.ts';

/** Where `npm run build` writes the bundle, relative to the package (the image's entrypoint runs it). */
export const OPERATOR_BUNDLE = 'dist/nhi-operator.js';

/** The licence notices of what the bundle holds, which esbuild writes beside it; the image ships both. */
export const OPERATOR_BUNDLE_NOTICES = `${OPERATOR_BUNDLE}.LEGAL.txt`;

/** Writes the operator bundle to `outFile`. esbuild is a dev dependency: loaded only here. */
export function bundleOperator(outFile: string): void {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
  esbuild.buildSync({
    entryPoints: [join(repoRoot, 'src', 'main.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    // Licence notices go beside the bundle (OPERATOR_BUNDLE_NOTICES), not into it: theirs are the
    // only characters outside ASCII, and one such character makes V8 hold the whole 7 MB source as a
    // two-byte string (14 MiB of heap; BENCHMARKS.md (f)).
    legalComments: 'external',
    // CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
    banner: {
      js: "import { createRequire as __nhiRequire } from 'node:module'; const require = __nhiRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
}
