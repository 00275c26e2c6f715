// Shared launcher for the bins: in a checkout (src/ present) the TypeScript source runs through
// tsx so `npx nhictl` needs no build step; an installed package (no src/) runs dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function run(entry) {
  const source = join(root, 'src', `${entry}.ts`);
  if (existsSync(source)) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(source).href);
    return;
  }
  await import(pathToFileURL(join(root, 'dist', `${entry}.js`)).href);
}
