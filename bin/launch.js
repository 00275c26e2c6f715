// Shared launcher for the bins: in a checkout (src/ present) the TypeScript source runs through
// tsx so `npx nhictl` needs no build step; an installed package (no src/) runs dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function run(entry) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    console.error(
      `${entry === 'main' ? 'nhi-operator' : 'nhictl'} needs Node.js 22 or newer (this is ${process.version}). ` +
        "Run it through npx or an npm script in the checkout (they use the project's Node 24), or run `npm test` once to install it.",
    );
    process.exit(1);
  }
  const source = join(root, 'src', `${entry}.ts`);
  if (existsSync(source)) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(source).href);
    return;
  }
  await import(pathToFileURL(join(root, 'dist', `${entry}.js`)).href);
}
