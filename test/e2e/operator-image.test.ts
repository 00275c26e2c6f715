// The operator image built here (src/dev/node/images.ts, no Docker) holds what the Dockerfile's final
// stage would: in /app exactly package.json, node_modules and dist; node_modules exactly the lock's
// production packages (what `npm ci` then `npm prune --omit=dev` leave), no devDependency; dist exactly
// what `npm run build` writes (tsc -p tsconfig.build.json from src, and the operator bundle); all
// root-owned; the entrypoint runs the bundle in /app as uid 65532. src/dev/node/images.test.ts checks the Dockerfile's final
// stage against the same OPERATOR_IMAGE, so the two recipes are compared by what they produce, not
// only by text. It builds the archive (or takes it from the cache), as the node suites do.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_BUNDLE, OPERATOR_BUNDLE_NOTICES } from '../../src/dev/bundle.ts';
import { repoRoot } from '../../src/dev/components.ts';
import { OPERATOR_IMAGE, operatorImageArchive } from '../../src/dev/node/images.ts';

interface LockPackage {
  dev?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockPackage>;
};

/** The lock's packages an `--omit=dev` install on linux/x64 (glibc) puts in node_modules. */
function productionPackages(): string[] {
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev)
    .filter(([, p]) => !p.os || p.os.includes('linux'))
    .filter(([, p]) => !p.cpu || p.cpu.includes('x64'))
    .filter(([, p]) => !p.libc || p.libc.includes('glibc'))
    .map(([path]) => path)
    .sort();
}

/** What `tsc -p tsconfig.build.json` emits: a .js and a .js.map for every src .ts but tests and testing/. */
function compiledFiles(): string[] {
  const sources = execFileSync(
    'find',
    [join(repoRoot, 'src'), '-name', '*.ts', '-not', '-name', '*.test.ts', '-not', '-path', '*/testing/*'],
    { encoding: 'utf8' },
  );
  return sources
    .split('\n')
    .filter(Boolean)
    .flatMap((file) => {
      const js = relative(join(repoRoot, 'src'), file).replace(/\.ts$/, '.js');
      return [`dist/${js}`, `dist/${js}.map`];
    })
    .sort();
}

describe('the operator image built for the dev node', () => {
  it("holds the Dockerfile final stage's files: package.json, production node_modules, dist, root-owned, uid 65532", () => {
    const archive = operatorImageArchive();
    const [manifest] = JSON.parse(
      execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' }),
    );
    const config = JSON.parse(execFileSync('tar', ['-xOf', archive, manifest.Config], { encoding: 'utf8' }));
    expect(config.config).toEqual({
      Entrypoint: [`/usr/local/bin/${OPERATOR_IMAGE.entrypoint[0]}`, ...OPERATOR_IMAGE.entrypoint.slice(1)],
      Env: ['PATH=/usr/local/bin', ...OPERATOR_IMAGE.env],
      WorkingDir: OPERATOR_IMAGE.workdir,
      User: OPERATOR_IMAGE.user,
    });

    // One line per entry: "<mode> <uid>/<gid> <size> <date> <time> ./<path>"
    const listing = execFileSync(
      'bash',
      ['-c', 'tar -xOf "$1" "$2" | tar -tv --numeric-owner', 'list', archive, manifest.Layers[0]],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    )
      .split('\n')
      .filter(Boolean);
    const app = listing
      .map((line) => ({
        file: line.startsWith('-'),
        owner: line.split(/\s+/)[1],
        path: line.slice(line.indexOf(' ./') + 3),
      }))
      .filter((entry) => entry.path.startsWith('app/') && entry.path !== 'app/')
      .map((entry) => ({ ...entry, path: entry.path.replace(/^app\//, '').replace(/\/$/, '') }));
    expect(app.filter((e) => e.owner !== '0/0')).toEqual([]);

    const top = [...new Set(app.map((e) => e.path.split('/')[0]))].sort();
    expect(top).toEqual([...OPERATOR_IMAGE.copies].sort());

    // The Dockerfile's `npm run build` is the tsc and the bundle this image holds; the entrypoint
    // runs the bundle.
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && tsx scripts/bundle-operator.ts');
    const dist = app.filter((e) => e.file && e.path.startsWith('dist/')).map((e) => e.path);
    expect(dist.sort()).toEqual([...compiledFiles(), OPERATOR_BUNDLE, OPERATOR_BUNDLE_NOTICES].sort());
    expect(OPERATOR_IMAGE.entrypoint.at(-1)).toBe(OPERATOR_BUNDLE);

    const packages = app
      .map(
        (e) =>
          /^(node_modules\/(?:(?:@[^/]+\/)?[^/@][^/]*\/node_modules\/)*(?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/.exec(
            e.path,
          )?.[1],
      )
      .filter((p): p is string => p !== undefined)
      .sort();
    expect(packages).toEqual(productionPackages());
    // A devDependency is there only when a production package needs it too (the lock marks the rest dev).
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev,
    );
    expect(devOnly.length).toBeGreaterThan(0);
    for (const name of devOnly) expect(packages).not.toContain(`node_modules/${name}`);
    for (const name of Object.keys(pkg.dependencies)) expect(packages).toContain(`node_modules/${name}`);
  });
});
