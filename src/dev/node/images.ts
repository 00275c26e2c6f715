// Container images for the dev node without Docker or a registry (docs/node.md): a root folder
// becomes a one-layer `docker save` archive (reproducible tar: sorted, mtime 0, root-owned), which
// `ctr images import` loads into containerd. Three images:
//   localhost/nhi/pause:1   the pod sandbox: pause.c, linked statically with gcc
//   localhost/nhi/probe:1   Node.js (the binary running this code, its shared libraries) + probe.ts
//   localhost/nhi/nhi-operator:dev   the operator, from the Dockerfile's inputs and layout
//                           (OPERATOR_IMAGE: package.json, production node_modules, dist/ from tsc
//                           and the bundle the entrypoint runs)
// Archives are cached by the hash of their inputs under <cache>/images, so a warm start only imports.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { bundleOperator, OPERATOR_BUNDLE } from '../bundle.ts';
import { cacheRoot, repoRoot } from '../components.ts';

export const PAUSE_IMAGE = 'localhost/nhi/pause:1';
export const PROBE_IMAGE = 'localhost/nhi/probe:1';

/**
 * How the image runs Node.js for the operator. A young generation of 4 MiB semi-spaces instead of
 * V8's default (up to 16–32 MiB each, sized from the memory it sees): the operator's garbage is
 * short-lived JSON, and the larger nursery was 30–60 MiB of resident memory held for little gain.
 * The image's environment (OPERATOR_IMAGE.env) also tunes glibc's malloc. Two arenas, not one per
 * thread (Node's thread pool and V8's workers): with one each, freed native memory stayed
 * resident, about 20 MiB at 1,000 identities. And fixed mmap and trim thresholds of 128 KiB
 * (glibc's starting values): by default glibc raises both after the first large block is freed (up
 * to 32 MiB), and from then on large Buffers are cut from the arenas, which keep their freed
 * space: about 100 MiB of native memory at 2,000 identities against 20 with the thresholds fixed,
 * in runs of the same day (a later run on a busier machine grew the main arena to 72 MiB again;
 * BENCHMARKS.md, (f)).
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=4'] as const;

/**
 * The operator image's layout, the same as the Dockerfile's final stage (a unit test compares them):
 * what is copied into the working folder, the user, the environment and the entrypoint.
 */
export const OPERATOR_IMAGE = {
  repository: 'localhost/nhi/nhi-operator',
  tag: 'dev',
  workdir: '/app',
  copies: ['package.json', 'node_modules', 'dist'],
  user: `65532:65532`,
  env: [
    'NODE_ENV=production',
    'MALLOC_ARENA_MAX=2',
    'MALLOC_MMAP_THRESHOLD_=131072',
    'MALLOC_TRIM_THRESHOLD_=131072',
  ],
  entrypoint: ['node', ...OPERATOR_NODE_FLAGS, OPERATOR_BUNDLE],
} as const;

/** The non-root user of the images (as in the Dockerfile). */
export const IMAGE_UID = 65532;

export interface ImageConfig {
  entrypoint: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

// The sources, read from the checkout (also when the CLI runs from dist/).
const here = join(repoRoot, 'src', 'dev', 'node');

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Writes `rootfs` as a one-layer docker-archive tagged `tag` to `out`. */
export function writeImageArchive(rootfs: string, out: string, tag: string, config: ImageConfig): void {
  const work = mkdtempSync(join(dirname(out), '.image-'));
  try {
    const layerTmp = join(work, 'layer.tar');
    execFileSync('tar', [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      rootfs,
      '-cf',
      layerTmp,
      '.',
    ]);
    const layerSha = sha256File(layerTmp);
    mkdirSync(join(work, layerSha));
    renameSync(layerTmp, join(work, layerSha, 'layer.tar'));
    const imageConfig = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: config.entrypoint,
        Env: config.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'],
        WorkingDir: config.workingDir ?? '/',
        User: config.user ?? `${IMAGE_UID}:${IMAGE_UID}`,
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] },
    });
    const configSha = createHash('sha256').update(imageConfig).digest('hex');
    writeFileSync(join(work, `${configSha}.json`), imageConfig);
    writeFileSync(
      join(work, 'manifest.json'),
      JSON.stringify([{ Config: `${configSha}.json`, RepoTags: [tag], Layers: [`${layerSha}/layer.tar`] }]),
    );
    execFileSync('tar', ['-C', work, '-cf', `${out}.tmp`, 'manifest.json', `${configSha}.json`, layerSha]);
    renameSync(`${out}.tmp`, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** /etc/passwd and /etc/group naming root and the non-root image user; /tmp world-writable. */
function baseFiles(rootfs: string): void {
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(
    join(rootfs, 'etc', 'passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_UID}:${IMAGE_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  writeFileSync(join(rootfs, 'etc', 'group'), `root:x:0:\nnonroot:x:${IMAGE_UID}:\n`);
  mkdirSync(join(rootfs, 'tmp'));
  chmodSync(join(rootfs, 'tmp'), 0o1777);
}

/** The shared libraries `ldd` lists for `binary` (absolute paths, symlinks to be followed). */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1] as string);
}

/** Node.js at /usr/local/bin/node with its shared libraries, so a script runs on it. */
export function addNodeRuntime(rootfs: string, nodeBinary = process.execPath): void {
  mkdirSync(join(rootfs, 'usr', 'local', 'bin'), { recursive: true });
  copyFileSync(nodeBinary, join(rootfs, 'usr', 'local', 'bin', 'node'));
  chmodSync(join(rootfs, 'usr', 'local', 'bin', 'node'), 0o755);
  for (const lib of sharedLibraries(nodeBinary)) {
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(rootfs, lib)); // follows the symlink: the real file under the link's name
  }
}

interface ImageRecipe {
  tag: string;
  /** Everything the archive depends on, hashed into its cache name. */
  inputs: string[];
  build(rootfs: string): ImageConfig;
}

function cachedArchive(recipe: ImageRecipe, cacheDir: string): string {
  const key = createHash('sha256');
  for (const input of recipe.inputs) {
    if (existsSync(input)) {
      const stat = statSync(input);
      key.update(`${input}\0${stat.size}\0${stat.mtimeMs}\0`);
      if (stat.size < 1_000_000) key.update(readFileSync(input));
    } else key.update(`${input}\0`);
  }
  const name = recipe.tag.replace(/[^a-z0-9]+/gi, '-');
  const out = join(cacheDir, `${name}-${key.digest('hex').slice(0, 16)}.tar`);
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true });
  const rootfs = mkdtempSync(join(cacheDir, '.rootfs-'));
  try {
    const config = recipe.build(rootfs);
    writeImageArchive(rootfs, out, recipe.tag, config);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  pruneArchives(cacheDir, name, KEPT_ARCHIVES);
  return out;
}

/**
 * Archives of one image kept in the cache: each change of the sources builds a new one (about 250 MB
 * for the operator), so older ones go. Several stay, because runs under different Node binaries
 * (vitest from PATH, nhictl on node_modules/node) and branches in other worktrees each want their own.
 */
export const KEPT_ARCHIVES = 4;

/** Removes all but the `keep` newest `<name>-<key>.tar` archives in `cacheDir`. */
export function pruneArchives(cacheDir: string, name: string, keep: number): void {
  const archives = readdirSync(cacheDir)
    .filter((file) => file.startsWith(`${name}-`) && /^-[0-9a-f]{16}\.tar$/.test(file.slice(name.length)))
    .map((file) => ({ file, mtime: statSync(join(cacheDir, file)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { file } of archives.slice(keep)) rmSync(join(cacheDir, file), { force: true });
}

const pauseRecipe: ImageRecipe = {
  tag: PAUSE_IMAGE,
  inputs: [join(here, 'pause.c')],
  build(rootfs) {
    execFileSync('gcc', ['-static', '-Os', '-s', '-o', join(rootfs, 'pause'), join(here, 'pause.c')]);
    return { entrypoint: ['/pause'], user: '65535:65535' };
  },
};

const probeRecipe: ImageRecipe = {
  tag: PROBE_IMAGE,
  inputs: [process.execPath, join(here, 'probe.ts')],
  build(rootfs) {
    baseFiles(rootfs);
    addNodeRuntime(rootfs);
    mkdirSync(join(rootfs, 'probe'));
    copyFileSync(join(here, 'probe.ts'), join(rootfs, 'probe', 'probe.ts'));
    return {
      entrypoint: ['/usr/local/bin/node', '/probe/probe.ts'],
      env: ['PATH=/usr/local/bin', 'NODE_ENV=production'],
    };
  },
};

/** Every file under `dir` (no node_modules, no tests): the operator image's source inputs. */
function sourceFiles(dir: string): string[] {
  const out = execFileSync(
    'find',
    [dir, '-type', 'f', '-not', '-name', '*.test.ts', '-not', '-path', '*/testing/*'],
    {
      encoding: 'utf8',
    },
  );
  return out.split('\n').filter(Boolean).sort();
}

/**
 * The operator as the Dockerfile builds it, without Docker: `npm ci --omit=dev` from the lock in a
 * staging folder (production dependencies only, no install scripts), `npm run build`'s two steps
 * (`tsc -p tsconfig.build.json`, then the bundle) into its dist/, then the Dockerfile's final layout
 * on the Node.js runtime, as uid 65532.
 */
const operatorRecipe: ImageRecipe = {
  tag: `${OPERATOR_IMAGE.repository}:${OPERATOR_IMAGE.tag}`,
  inputs: [
    process.execPath,
    join(repoRoot, 'package.json'),
    join(repoRoot, 'package-lock.json'),
    join(repoRoot, 'tsconfig.json'),
    join(repoRoot, 'tsconfig.build.json'),
    ...sourceFiles(join(repoRoot, 'src')),
  ],
  build(rootfs) {
    baseFiles(rootfs);
    addNodeRuntime(rootfs);
    const app = join(rootfs, OPERATOR_IMAGE.workdir);
    mkdirSync(app, { recursive: true });
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(repoRoot, file), join(app, file));
    const npm = 'npm';
    const quiet = ['--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    try {
      execFileSync(npm, ['ci', '--omit=dev', ...quiet], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      // As the Dockerfile: a lock npm ci refuses (npm/cli#9846) installs with npm install instead.
      execFileSync(npm, ['install', '--omit=dev', '--no-save', ...quiet], {
        cwd: app,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    }
    rmSync(join(app, 'package-lock.json'));
    execFileSync(
      join(repoRoot, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', relative(repoRoot, join(app, 'dist')) || '.'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    bundleOperator(join(app, OPERATOR_BUNDLE));
    return {
      entrypoint: [`/usr/local/bin/${OPERATOR_IMAGE.entrypoint[0]}`, ...OPERATOR_IMAGE.entrypoint.slice(1)],
      env: ['PATH=/usr/local/bin', ...OPERATOR_IMAGE.env],
      workingDir: OPERATOR_IMAGE.workdir,
      user: OPERATOR_IMAGE.user,
    };
  },
};

/** Builds (or takes from the cache) the operator image archive; returns its path. */
export function operatorImageArchive(cacheDir = join(cacheRoot(), 'images')): string {
  return cachedArchive(operatorRecipe, cacheDir);
}

/** Builds (or takes from the cache) the pause and probe archives; returns their paths. */
export function nodeImageArchives(cacheDir = join(cacheRoot(), 'images')): string[] {
  return [pauseRecipe, probeRecipe].map((recipe) => cachedArchive(recipe, cacheDir));
}
