// The dev node (docs/node.md): one real Kubernetes node next to the dev control plane, so pods run
// and use the credentials the operator gives them. containerd 2 (runc, Debian's bridge CNI) +
// kubelet + kube-scheduler + a user-space forwarder for 10.0.0.1:443 (no kube-proxy), locally built
// images imported with ctr (no registry: pods use imagePullPolicy Never). Everything lives under
// <environment>/node; the node's coordinates and what it must undo are in <environment>/node.json.
// `stopNode` follows the teardown order of docs/node.md and then sweeps: no process, mount, link,
// iptables rule, cgroup, sysctl change or fixed host path of the node stays behind.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CNI_BIN_DIR, componentPaths, missingNodeComponents, RUNC, repoRoot } from '../components.ts';
import type { DevEnvironment, Progress } from '../environment.ts';
import { clientCertificate, kubeconfigYaml } from '../pki.ts';
import {
  freePort,
  httpsGet,
  isAlive,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitUntil,
} from '../processes.ts';
import {
  FIXED_HOST_PATHS,
  type HostSnapshot,
  hostLeftovers,
  hostSnapshot,
  mountsUnder,
  nodeCgroups,
  nodeProcesses,
  writeSysctl,
} from './host.ts';
import { nodeImageArchives } from './images.ts';

export const NODE_NAME = 'nhi-dev-node';
export const BRIDGE = 'nhi0';
export const POD_SUBNET = '10.244.0.0/24';
/** The bridge's address: the node's InternalIP, and where pods reach OpenBao and moto. */
export const NODE_IP = '10.244.0.1';
/** The `kubernetes` Service ClusterIP (a SAN of the dev serving certificate), put on the bridge. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
/** Where containerd sends every image pull: a closed port (the discard service), no registry. */
export const NO_REGISTRY = 'http://127.0.0.1:9';

export interface DevNode {
  name: string;
  stateDir: string;
  containerdSocket: string;
  /** OpenBao and moto as a pod on the node reaches them. */
  podBaoAddr: string;
  podAwsEndpoint: string;
  images: string[];
  /** Archives imported after start (importImage), by path. */
  imported?: string[];
  processes: StartedProcess[];
  before: HostSnapshot;
  startedAt: string;
  /** Measured: kubelet started -> Node Ready and untainted; the whole start. */
  readyMs?: number;
  startMs?: number;
}

export function nodeFile(envDir: string): string {
  return join(envDir, 'node.json');
}

export function readNode(envDir: string): DevNode | undefined {
  if (!existsSync(nodeFile(envDir))) return undefined;
  return JSON.parse(readFileSync(nodeFile(envDir), 'utf8')) as DevNode;
}

function writeNode(envDir: string, node: DevNode): void {
  writeFileSync(nodeFile(envDir), JSON.stringify(node, null, 2), { mode: 0o600 });
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(command: string, args: string[]): string {
  try {
    return run(command, args);
  } catch {
    return '';
  }
}

/** Why a node cannot start on this machine, or undefined when it can. */
export function nodeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the dev node needs Linux';
  if (process.getuid?.() !== 0) return 'the dev node needs root (kubelet, containerd and the bridge do)';
  const missing = missingNodeComponents(componentPaths());
  if (missing.length > 0) return `missing ${missing.join(', ')}: run bash scripts/build-components.sh node`;
  if (tryRun('ip', ['-o', 'link', 'show', BRIDGE]).trim()) {
    return `another dev node runs on this machine (link ${BRIDGE} exists, its environment still running): nhictl dev down there first`;
  }
  return undefined;
}

export function containerdConfig(state: string): string {
  return `version = 3
root = "${state}/containerd/root"
state = "${state}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp", "io.containerd.nri.v1.nri"]

[grpc]
  address = "${state}/run/containerd.sock"
[ttrpc]
  address = "${state}/run/containerd-ttrpc.sock"

[plugins.'io.containerd.internal.v1.opt']
  path = "${state}/containerd/opt"
[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = "${state}/containerd/image-verifier"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "localhost/nhi/pause:1"
  # No registry: every pull of every registry goes to a closed loopback port, so a pod naming an
  # image that was not imported fails at once and nothing is looked up or fetched off the machine.
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${state}/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  # This sandbox lacks CAP_SYS_RESOURCE: a sandbox's oom_score_adj -998 would fail runc (docs/node.md).
  restrict_oom_score_adj = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${RUNC}"
        Root = "${state}/run/runc"
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${CNI_BIN_DIR}"]
    conf_dir = "${state}/cni/net.d"
`;
}

/** Bridge CNI on nhi0: pods get the subnet and a route to 10.0.0.1 only, no default route, no NAT. */
export function cniConfig(state: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'nhi-dev',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: `${state}/cni/ipam`,
          ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP }]],
          routes: [{ dst: `${KUBERNETES_SERVICE_IP}/32` }],
        },
      },
    ],
  });
}

export function kubeletConfig(state: string, caFile: string, port: number, healthzPort: number): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false, // these machines have cgroup v1 (hybrid); 1.35 refuses it by default
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${state}/run/containerd.sock`,
    address: NODE_IP,
    port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: 'AlwaysAllow' },
    podLogsDir: `${state}/pod-logs`,
    volumePluginDir: `${state}/kubelet/volume-plugins`,
    makeIPTablesUtilChains: false,
    syncFrequency: '5s', // a rotated Secret reaches the pod's volume within 1.5 x this
    serializeImagePulls: false,
    imageGCHighThresholdPercent: 100, // local images cannot be pulled again
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    failSwapOn: false,
    resolvConf: '/etc/resolv.conf',
    maxPods: 30,
    rotateCertificates: false,
    shutdownGracePeriod: '0s',
  });
}

async function apiGet(env: DevEnvironment, path: string): Promise<{ status: number; json: unknown }> {
  const answer = await httpsGet(`${env.apiserverUrl}${path}`, { ca: env.caPem, token: env.adminToken });
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  return { status: answer.status, json };
}

async function apiWrite(
  env: DevEnvironment,
  method: string,
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<number> {
  const { request } = await import('node:https');
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.apiserverUrl}${path}`,
      {
        method,
        ca: env.caPem,
        timeout: 5000,
        headers: { authorization: `Bearer ${env.adminToken}`, 'content-type': contentType },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

interface NodeObject {
  spec?: { taints?: { key: string }[]; unschedulable?: boolean };
  status?: { conditions?: { type: string; status: string }[] };
}

async function nodeReadyAndUntainted(env: DevEnvironment): Promise<boolean> {
  const { status, json } = await apiGet(env, `/api/v1/nodes/${NODE_NAME}`);
  if (status !== 200) return false;
  const node = json as NodeObject;
  // A Node object left by an earlier start is still cordoned (stopNode cordons before it drains).
  if (node.spec?.unschedulable) {
    await apiWrite(
      env,
      'PATCH',
      `/api/v1/nodes/${NODE_NAME}`,
      { spec: { unschedulable: false } },
      'application/merge-patch+json',
    );
    return false;
  }
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const tainted = (node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
  return Boolean(ready) && !tainted;
}

function ctr(node: Pick<DevNode, 'containerdSocket'>, args: string[]): string {
  return run(componentPaths().ctr, ['-a', node.containerdSocket, '-n', 'k8s.io', ...args]);
}

/** Starts the dev node next to the running environment `env`; resolves when it is Ready and untainted. */
export async function startNode(env: DevEnvironment, progress: Progress = () => {}): Promise<DevNode> {
  const began = Date.now();
  await sweepOrphanedNodes();
  const why = nodeUnavailable();
  if (why) throw new Error(`cannot start the dev node: ${why}`);
  if (readNode(env.dir)) await stopNode(env.dir, env);
  const paths = componentPaths();
  const state = join(env.dir, 'node');
  rmSync(state, { recursive: true, force: true });
  for (const sub of ['containerd', 'run', 'cni/net.d', 'cni/ipam', 'kubelet/pki', 'pod-logs', 'pki']) {
    mkdirSync(join(state, sub), { recursive: true, mode: 0o700 });
  }
  const baoPort = new URL(env.bao.addr).port;
  const awsPort = new URL(env.aws.endpoint).port;
  const node: DevNode = {
    name: NODE_NAME,
    stateDir: state,
    containerdSocket: join(state, 'run', 'containerd.sock'),
    podBaoAddr: `http://${NODE_IP}:${baoPort}`,
    podAwsEndpoint: `http://${NODE_IP}:${awsPort}`,
    images: [],
    processes: [],
    before: hostSnapshot(),
    startedAt: new Date().toISOString(),
  };
  writeNode(env.dir, node);
  const record = (p: StartedProcess) => {
    node.processes.push(p);
    writeNode(env.dir, node);
    return p;
  };
  try {
    progress('node: certificates from the dev CA, RBAC for system:nodes');
    const pkiDir = join(env.dir, 'pki');
    const kubeletCert = clientCertificate(pkiDir, 'kubelet', `system:node:${NODE_NAME}`, ['system:nodes']);
    const schedulerCert = clientCertificate(pkiDir, 'kube-scheduler', 'system:kube-scheduler');
    const kubeconfig = (name: string, client: { cert: string; key: string }, user: string) => {
      const file = join(state, `${name}.kubeconfig`);
      writeFileSync(
        file,
        kubeconfigYaml({ server: env.apiserverUrl, caFile: join(pkiDir, 'ca.crt'), client, user }),
        {
          mode: 0o600,
        },
      );
      return file;
    };
    const kubeletKubeconfig = kubeconfig('kubelet', kubeletCert, `system:node:${NODE_NAME}`);
    const schedulerKubeconfig = kubeconfig('kube-scheduler', schedulerCert, 'system:kube-scheduler');
    // No Node authorizer in the dev apiserver: the node's group gets the system:node role.
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'nhi-dev:nodes' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
    };
    const created = await apiWrite(
      env,
      'POST',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      binding,
    );
    if (created !== 201 && created !== 409)
      throw new Error(`creating ClusterRoleBinding nhi-dev:nodes: HTTP ${created}`);

    progress(`node: bridge ${BRIDGE} (${NODE_IP}, ${KUBERNETES_SERVICE_IP}) and the forwarder`);
    run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
    run('ip', ['addr', 'add', `${KUBERNETES_SERVICE_IP}/32`, 'dev', BRIDGE]);
    run('ip', ['link', 'set', BRIDGE, 'up']);
    const apiPort = new URL(env.apiserverUrl).port;
    const proxy = record(
      startProcess(
        'node-proxy',
        process.execPath,
        [
          join(repoRoot, 'src', 'dev', 'node', 'proxy.ts'),
          `${KUBERNETES_SERVICE_IP}:443=127.0.0.1:${apiPort}`,
          `${NODE_IP}:${baoPort}=127.0.0.1:${baoPort}`,
          `${NODE_IP}:${awsPort}=127.0.0.1:${awsPort}`,
          `--state=${state}`, // names the node's state folder in the command line, for the sweep
        ],
        { dir: env.dir, cwd: state },
      ),
    );

    progress('node: containerd, and the pause and probe images');
    const configFile = join(state, 'containerd.toml');
    writeFileSync(configFile, containerdConfig(state));
    writeFileSync(join(state, 'cni', 'net.d', '10-nhi-dev.conflist'), cniConfig(state));
    mkdirSync(join(state, 'certs.d', '_default'), { recursive: true });
    writeFileSync(join(state, 'certs.d', '_default', 'hosts.toml'), `server = "${NO_REGISTRY}"\n`);
    const containerd = record(
      startProcess('containerd', paths.containerd, ['--config', configFile, '--log-level', 'warn'], {
        dir: env.dir,
        cwd: state,
        env: {
          ...process.env,
          PATH: `${paths.containerdDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
        },
      }),
    );
    const archives = nodeImageArchives();
    await waitUntil(
      'containerd',
      async () => tryRun(paths.ctr, ['-a', node.containerdSocket, 'version']) !== '',
      {
        timeoutMs: 20_000,
        process: containerd,
      },
    );
    for (const archive of archives) ctr(node, ['images', 'import', '--local', archive]);
    node.images = ctr(node, ['images', 'ls', '-q'])
      .split('\n')
      .filter((name) => name.startsWith('localhost/'));
    await waitUntil('the node proxy', async () => true, { timeoutMs: 1000, process: proxy });

    progress('node: kubelet and kube-scheduler');
    const [kubeletPort, healthzPort] = await Promise.all([freePort(), freePort()]);
    const kubeletConfigFile = join(state, 'kubelet.json');
    writeFileSync(kubeletConfigFile, kubeletConfig(state, join(pkiDir, 'ca.crt'), kubeletPort, healthzPort));
    const kubeletStarted = Date.now();
    const kubelet = record(
      startProcess(
        'kubelet',
        paths.kubelet,
        [
          `--config=${kubeletConfigFile}`,
          `--kubeconfig=${kubeletKubeconfig}`,
          `--root-dir=${join(state, 'kubelet')}`,
          `--cert-dir=${join(state, 'kubelet', 'pki')}`,
          `--hostname-override=${NODE_NAME}`,
          `--node-ip=${NODE_IP}`,
        ],
        { dir: env.dir, cwd: state },
      ),
    );
    const scheduler = record(
      startProcess(
        'kube-scheduler',
        paths.kubeScheduler,
        [`--kubeconfig=${schedulerKubeconfig}`, '--leader-elect=false', '--secure-port=0'],
        { dir: env.dir, cwd: state },
      ),
    );
    await waitUntil('the dev node Ready and untainted', () => nodeReadyAndUntainted(env), {
      timeoutMs: 60_000,
      process: kubelet,
      intervalMs: 100,
    });
    await waitUntil('kube-scheduler', async () => true, { timeoutMs: 1000, process: scheduler });
    node.readyMs = Date.now() - kubeletStarted;
    node.startMs = Date.now() - began;
    writeNode(env.dir, node);
    progress(`node: ${NODE_NAME} Ready ${node.readyMs} ms after kubelet started (${node.startMs} ms in all)`);
    return node;
  } catch (error) {
    await stopNode(env.dir, env).catch(() => undefined);
    throw error;
  }
}

interface PodList {
  items?: { metadata?: { name?: string; namespace?: string; deletionTimestamp?: string } }[];
}

async function podsOnNode(
  env: DevEnvironment,
): Promise<{ name: string; namespace: string; deleting: boolean }[]> {
  const { status, json } = await apiGet(env, `/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE_NAME}`);
  if (status !== 200) throw new Error(`listing the node's pods: HTTP ${status}`);
  return ((json as PodList).items ?? []).map((pod) => ({
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    deleting: Boolean(pod.metadata?.deletionTimestamp),
  }));
}

/** Cordon, then delete every pod on the node and wait until kubelet has torn their sandboxes down. */
async function drain(env: DevEnvironment, node: DevNode): Promise<void> {
  await apiWrite(
    env,
    'PATCH',
    `/api/v1/nodes/${NODE_NAME}`,
    { spec: { unschedulable: true } },
    'application/merge-patch+json',
  );
  const deadline = Date.now() + 30_000;
  let lastDelete = 0;
  while (Date.now() < deadline) {
    // Every pod not yet deleting, again each second: a delete the apiserver did not take (a timeout,
    // a conflict) would otherwise leave its pod running until the deadline.
    if (Date.now() - lastDelete >= 1000) {
      lastDelete = Date.now();
      for (const pod of (await podsOnNode(env)).filter((p) => !p.deleting)) {
        await apiWrite(env, 'DELETE', `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`, {
          gracePeriodSeconds: 2,
        }).catch(() => 0);
      }
    }
    const tasks = tryRun(componentPaths().ctr, [
      '-a',
      node.containerdSocket,
      '-n',
      'k8s.io',
      'tasks',
      'ls',
      '-q',
    ]);
    if ((await podsOnNode(env)).length === 0 && tasks.trim() === '') return;
    await sleep(100);
  }
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * Stops the dev node of the environment in `envDir` (pods first, while `env`'s apiserver still
 * answers), then sweeps what kubelet and containerd leave. Returns what is still left (nothing).
 */
export async function stopNode(envDir: string, env?: DevEnvironment): Promise<string[]> {
  const node = readNode(envDir);
  if (!node) return [];
  const byName = (name: string) => node.processes.filter((p) => p.name === name);
  if (env && byName('kubelet').length > 0) {
    try {
      await drain(env, node);
    } catch {
      // apiserver gone: the sweep below still removes everything
    }
  }
  await stopProcesses([...byName('kube-scheduler'), ...byName('kubelet')], 5000);
  // Sandboxes kubelet did not stop (it was killed, or never drained): stop them through containerd.
  const ctrPath = componentPaths().ctr;
  for (const task of tryRun(ctrPath, ['-a', node.containerdSocket, '-n', 'k8s.io', 'tasks', 'ls', '-q'])
    .split('\n')
    .filter(Boolean)) {
    tryRun(ctrPath, ['-a', node.containerdSocket, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', task]);
  }
  await stopProcesses(byName('containerd'), 5000);
  await stopProcesses(byName('node-proxy'), 2000);
  await sweep(node.stateDir);
  for (const [key, value] of Object.entries(node.before.sysctls)) writeSysctl(key, value);
  for (const path of FIXED_HOST_PATHS) {
    if (!node.before.hostPaths.includes(path)) rmSync(path, { recursive: true, force: true });
  }
  const left = hostLeftovers(node.before, node.stateDir);
  rmSync(nodeFile(envDir), { force: true });
  if (left.length === 0) rmSync(node.stateDir, { recursive: true, force: true });
  return left;
}

/** Kills what is left of a node's processes, unmounts its state folder, deletes the bridge and cgroups. */
async function sweep(stateDir: string): Promise<void> {
  // Shims and pod processes that outlived containerd.
  for (let round = 0; round < 20; round += 1) {
    const left = nodeProcesses(stateDir);
    if (left.length === 0) break;
    killAll(left.map((p) => p.pid));
    await sleep(100);
  }
  for (const mount of mountsUnder(stateDir)) tryRun('umount', ['-l', mount]);
  // The host ends of pod veths still on our bridge: a pod network namespace unmounted lazily is
  // freed by the kernel late (minutes, at times), and its veth with it. Deleting one end deletes both.
  for (const veth of bridgePorts()) tryRun('ip', ['link', 'del', veth]);
  tryRun('ip', ['link', 'del', BRIDGE]);
  for (const cgroup of nodeCgroups()) removeCgroupTree(cgroup);
}

/** The links attached to the dev bridge (`ip -o link show master nhi0`: `7: vethX@if2: <...> ...`). */
export function bridgePorts(listing = tryRun('ip', ['-o', 'link', 'show', 'master', BRIDGE])): string[] {
  return listing
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== BRIDGE);
}

/** The state folders of dev nodes whose forwarder runs on this machine (its --state= argument). */
function runningNodeStates(): string[] {
  const states = new Set<string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const state = args.find((arg) => arg.startsWith('--state='));
      if (state && args.some((arg) => arg.endsWith(join('node', 'proxy.ts')))) states.add(state.slice(8));
    } catch {
      // gone meanwhile
    }
  }
  return [...states];
}

/**
 * Stops dev nodes whose environment is gone (a test run killed before its teardown): their
 * apiserver no longer runs, so nothing else would ever stop them, and the bridge they hold keeps
 * every later node from starting. Returns the state folders swept.
 */
export async function sweepOrphanedNodes(): Promise<string[]> {
  const swept: string[] = [];
  for (const state of runningNodeStates()) {
    const envDir = dirname(state);
    let apiserverAlive = false;
    try {
      const env = JSON.parse(readFileSync(join(envDir, 'state.json'), 'utf8')) as {
        processes?: StartedProcess[];
      };
      apiserverAlive = (env.processes ?? []).some((p) => p.name === 'kube-apiserver' && isAlive(p.pid));
    } catch {
      // no environment there any more
    }
    if (apiserverAlive) continue;
    if (readNode(envDir)) await stopNode(envDir);
    else await sweep(state);
    swept.push(state);
  }
  return swept;
}

/** rmdir a cgroup folder and its children, deepest first (cgroup folders hold only virtual files). */
function removeCgroupTree(dir: string): void {
  const children = tryRun('find', [dir, '-mindepth', '1', '-type', 'd'])
    .split('\n')
    .filter(Boolean)
    .sort((a, b) => b.length - a.length);
  for (const child of [...children, dir]) tryRun('rmdir', [child]);
}

/**
 * Imports a docker-archive (images.ts) into the node's containerd, unless this archive (its name
 * carries the hash of its inputs) was imported into this node already. Returns whether it imported.
 */
export function importImage(envDir: string, archive: string): boolean {
  const node = readNode(envDir);
  if (!node) throw new Error('the dev node is not running: npx nhictl dev up --node');
  if (node.imported?.includes(archive)) return false;
  ctr(node, ['images', 'import', '--local', archive]);
  node.imported = [...(node.imported ?? []), archive];
  writeNode(envDir, node);
  return true;
}
