// Shared launcher for the bins: in a checkout (src/ present) the TypeScript source runs through
// tsx so `npx nhictl` needs no build step; an installed package (no src/) runs dist/.
//
// Node.js: an installed package needs Node 22 or newer (package.json `engines`). In a checkout the
// `node` devDependency provides the project's Node 24 (package.json `devEngines`): npm scripts and
// npx put it first on PATH, and when something else starts a bin with an older `node` (kubectl
// running kubectl-nhi, a shell with the system Node first), the bin runs itself again on that one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIN_MAJOR = 22;

const NAMES = {
  main: 'nhi-operator',
  'cli/main': 'nhictl',
  'cli/kubectl-nhi': 'kubectl nhi',
  'cli/kubectl-complete': 'kubectl_complete-nhi',
};

/** Runs this same bin again on the checkout's Node 24; returns false when there is none. */
function rerunOnProjectNode() {
  const projectNode = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(projectNode) || process.execPath === projectNode) return false;
  const child = spawnSync(projectNode, process.argv.slice(1), { stdio: 'inherit' });
  if (child.error) return false;
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
}

export async function run(entry) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_MAJOR) {
    rerunOnProjectNode();
    console.error(
      `${NAMES[entry] ?? entry} needs Node.js ${MIN_MAJOR} or newer (this is ${process.version}). ` +
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
