// What ships is dist/ (the image copies only dist/, node_modules and package.json; npm publishes
// bin, dist, crds and config). This builds dist/ as `npm run build` does, into a temporary directory,
// and checks that no test code came along: no testing/ folder, no fake or fixture, no compiled test,
// and no emitted module that imports from a testing/ path.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from './api/v1alpha1/generate.ts';

const BUILD_TIMEOUT_MS = 120_000; // seconds on a quiet machine; generous for a busy 2-core one

let outDir: string;
let files: string[];

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), 'nhi-build-'));
  const tsc = join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: repositoryRoot,
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  expect(build.status, `${build.stdout}${build.stderr}${build.error ?? ''}`).toBe(0);
  files = readdirSync(outDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(outDir, join(entry.parentPath, entry.name)).split(sep).join('/'));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** Every module specifier of an emitted file: static and dynamic imports and re-exports. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/\b(?:from|import)\s*\(?\s*(['"])([^'"]+)\1/g)) found.push(match[2]!);
  return found;
}

describe('the build output', () => {
  it('is the operator and nhictl', () => {
    expect(files).toEqual(expect.arrayContaining(['main.js', 'operator.js', 'cli/main.js']));
  });

  it('has no testing/ folder', () => {
    const isTesting = (segment: string) => segment.split('.')[0] === 'testing';
    expect(files.filter((file) => file.split('/').some(isTesting))).toEqual([]);
  });

  it('has no fake or fixture', () => {
    expect(files.filter((file) => /fake|fixture/i.test(file.split('/').at(-1)!))).toEqual([]);
  });

  it('has no compiled test', () => {
    expect(files.filter((file) => /\.test\.js(\.map)?$/.test(file))).toEqual([]);
  });

  it('has no module that imports from a testing/ path', () => {
    const offenders = files
      .filter((file) => file.endsWith('.js'))
      .flatMap((file) =>
        specifiers(readFileSync(join(outDir, file), 'utf8'))
          .filter((specifier) => /(^|\/)testing(\/|$)/.test(specifier))
          .map((specifier) => `${file} imports ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });
});

describe('what ships', () => {
  it('the image copies only the build output, the production node_modules and package.json', () => {
    const dockerfile = readFileSync(join(repositoryRoot, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copies = finalStage.split('\n').filter((line) => /^COPY\b/.test(line));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies)
      expect(copy).toMatch(/^COPY --from=build .*\/app\/(dist|node_modules|package\.json) /);
  });

  it('the npm package holds no sources or tests', () => {
    const pkg = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files.filter((entry) => /^(src|test|bench|scripts)(\/|$)/.test(entry))).toEqual([]);
  });
});
