// The operator compiled as the package ships it (tsconfig.build.json -> main.js), built once per test
// run into .nhi/ (ignored by git). The reliability suites restart the process hundreds of times; the
// compiled entry loads in about half the time of the TypeScript one, with Node's compile cache on top.

import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../src/dev/components.ts';

let built: string | undefined;

/** Path of the compiled `main.js`, building it on first use. */
export function compiledOperator(): string {
  if (built) return built;
  const outDir = join(repoRoot, '.nhi', 'reliability-dist');
  execFileSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      outDir,
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
  built = join(outDir, 'main.js');
  return built;
}

/** Environment for each start: Node's on-disk compile cache, shared by every restart. */
export const FAST_START_ENV = { NODE_COMPILE_CACHE: join(tmpdir(), 'nhi-operator-compile-cache') };
