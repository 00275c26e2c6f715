import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../components.ts';
import { OPERATOR_IMAGE, pruneArchives, writeImageArchive } from './images.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the operator image built for the dev node', () => {
  it('has the Dockerfile final stage layout: the same copies, user, environment, workdir and entrypoint', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copies = [...final.matchAll(/^COPY --from=build \S+ \/app\/(\S+) /gm)].map((m) => m[1]);
    expect(copies.sort()).toEqual([...OPERATOR_IMAGE.copies].sort());
    expect(final).toMatch(new RegExp(`^WORKDIR ${OPERATOR_IMAGE.workdir}$`, 'm'));
    expect(final).toMatch(new RegExp(`^USER ${OPERATOR_IMAGE.user}$`, 'm'));
    expect(final).toMatch(new RegExp(`^ENV ${OPERATOR_IMAGE.env.join(' ')}$`, 'm'));
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(final)?.[1] ?? '';
    expect(JSON.parse(entrypoint)).toEqual(OPERATOR_IMAGE.entrypoint);
    // Production dependencies only, as the Dockerfile's prune.
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });
});

describe('writeImageArchive', () => {
  it('writes a one-layer docker archive whose config names the layer by its digest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-image-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
    writeFileSync(join(dir, 'rootfs', 'bin', 'hello'), 'hi');
    const out = join(dir, 'image.tar');
    writeImageArchive(join(dir, 'rootfs'), out, 'localhost/test/hello:1', { entrypoint: ['/bin/hello'] });
    mkdirSync(join(dir, 'x'));
    execFileSync('tar', ['-xf', out, '-C', join(dir, 'x')]);
    const [manifest] = JSON.parse(readFileSync(join(dir, 'x', 'manifest.json'), 'utf8'));
    expect(manifest.RepoTags).toEqual(['localhost/test/hello:1']);
    const config = JSON.parse(readFileSync(join(dir, 'x', manifest.Config), 'utf8'));
    const layer = readFileSync(join(dir, 'x', manifest.Layers[0]));
    expect(config.rootfs.diff_ids).toEqual([`sha256:${createHash('sha256').update(layer).digest('hex')}`]);
    expect(config.config).toMatchObject({ Entrypoint: ['/bin/hello'], User: '65532:65532' });
    const listing = execFileSync('tar', ['-tvf', join(dir, 'x', manifest.Layers[0])], { encoding: 'utf8' });
    expect(listing).toMatch(/ 0\/0 .* 1970-01-01 00:00 \.\/bin\/hello/);
  });

  it('is reproducible: the same folder gives the same layer digest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-image-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'rootfs', 'a'), 'a');
    const digest = (name: string) => {
      writeImageArchive(join(dir, 'rootfs'), join(dir, name), 't:1', { entrypoint: ['/a'] });
      return createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex');
    };
    expect(digest('one.tar')).toBe(digest('two.tar'));
  });
});

describe('the image cache', () => {
  it("keeps the newest archives of an image and leaves other images' alone", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-images-'));
    try {
      const key = (c: string) => c.repeat(16);
      const files = ['a', 'b', 'c', 'd'].map((c) => `op-${key(c)}.tar`).concat(`op-x-${key('e')}.tar`);
      files.forEach((file, i) => {
        writeFileSync(join(dir, file), '');
        utimesSync(join(dir, file), 1000 + i, 1000 + i);
      });
      pruneArchives(dir, 'op', 2);
      expect(readdirSync(dir).sort()).toEqual([
        `op-${key('c')}.tar`,
        `op-${key('d')}.tar`,
        `op-x-${key('e')}.tar`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
