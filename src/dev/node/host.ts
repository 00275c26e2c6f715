// What the dev node changes on the host, and the check that it changed nothing for good: a snapshot
// taken before the node starts (sysctls, links, addresses, iptables, the fixed host paths kubelet
// and containerd write to regardless of their settings) and `hostLeftovers`, which names every
// difference after teardown plus any process, mount or cgroup of the node still there.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Sysctls kubelet (vm.overcommit_memory, kernel.panic*) and the bridge plugin (ip_forward) set. */
export const NODE_SYSCTLS = [
  'vm.overcommit_memory',
  'kernel.panic',
  'kernel.panic_on_oops',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.forwarding',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
];

/**
 * Host paths kubelet, containerd and libcni use whatever they are configured with (shim sockets,
 * the CNI result cache, device-plugins, container log links, the NRI socket): removed at teardown
 * when they did not exist before the node started.
 */
export const FIXED_HOST_PATHS = [
  '/run/containerd',
  '/var/run/nri',
  '/var/lib/cni',
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/usr/libexec/kubernetes',
  '/etc/cni/net.d',
  '/run/netns',
];

export interface HostSnapshot {
  sysctls: Record<string, string>;
  links: string[];
  addresses: string[];
  iptables: string[];
  hostPaths: string[];
}

function sysctlFile(key: string): string {
  return join('/proc/sys', ...key.split('.'));
}

export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(sysctlFile(key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeSysctl(key: string, value: string): void {
  try {
    if (readSysctl(key) !== value)
      execFileSync('sysctl', ['-q', '-w', `${key}=${value}`], { stdio: 'ignore' });
  } catch {
    // a sysctl that cannot be written here cannot have been changed either
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** iptables and ip6tables rules and chains of every table, without counters or comments. */
function iptablesRules(): string[] {
  const lines: string[] = [];
  for (const command of ['iptables-save', 'ip6tables-save']) {
    for (const line of run(command, []).split('\n')) {
      if (!line || line.startsWith('#')) continue;
      lines.push(`${command}: ${line.replace(/\[\d+:\d+\]/g, '').trim()}`);
    }
  }
  return lines;
}

export function hostSnapshot(): HostSnapshot {
  const sysctls: Record<string, string> = {};
  for (const key of NODE_SYSCTLS) {
    const value = readSysctl(key);
    if (value !== undefined) sysctls[key] = value;
  }
  return {
    sysctls,
    links: run('ip', ['-o', 'link', 'show'])
      .split('\n')
      .map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter(Boolean),
    addresses: run('ip', ['-o', 'addr', 'show'])
      .split('\n')
      .map((line) => line.split(/\s+/).slice(1, 4).join(' '))
      .filter(Boolean),
    iptables: iptablesRules(),
    hostPaths: FIXED_HOST_PATHS.filter((path) => existsSync(path)),
  };
}

/** Mount points (from mountinfo) under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** The cgroup folders of the node's pods and containers (cgroupfs driver, v1 and v2). */
export function nodeCgroups(): string[] {
  const roots = ['/sys/fs/cgroup'];
  try {
    for (const entry of readdirSync('/sys/fs/cgroup')) roots.push(join('/sys/fs/cgroup', entry));
  } catch {
    return [];
  }
  return roots.flatMap((root) =>
    ['kubepods', 'kubepods.slice', 'k8s.io']
      .map((name) => join(root, name))
      .filter((path) => existsSync(path)),
  );
}

function processState(pid: string): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'X';
  }
}

/**
 * Live processes of the node: any whose command line names the node's state folder (containerd,
 * shims, kubelet, the proxy) or that runs in a pod's cgroup. Zombies count as gone.
 */
export function nodeProcesses(stateDir: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let command = '';
    let cgroup = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (!command.includes(stateDir) && !/\/kubepods[/.]/.test(cgroup)) continue;
    if (['Z', 'X'].includes(processState(pid))) continue;
    found.push({ pid: Number(pid), command: command.slice(0, 200) });
  }
  return found;
}

/** Everything the node left on the host compared with `before`: empty after a clean teardown. */
export function hostLeftovers(before: HostSnapshot, stateDir: string): string[] {
  const after = hostSnapshot();
  const left: string[] = [];
  for (const p of nodeProcesses(stateDir)) left.push(`process ${p.pid}: ${p.command}`);
  for (const mount of mountsUnder(stateDir)) left.push(`mount ${mount}`);
  for (const cgroup of nodeCgroups()) left.push(`cgroup ${cgroup}`);
  for (const link of after.links) if (!before.links.includes(link)) left.push(`link ${link}`);
  for (const address of after.addresses)
    if (!before.addresses.includes(address)) left.push(`address ${address}`);
  for (const rule of after.iptables) if (!before.iptables.includes(rule)) left.push(`iptables ${rule}`);
  for (const [key, value] of Object.entries(before.sysctls)) {
    const now = readSysctl(key);
    if (now !== value) left.push(`sysctl ${key}=${now} (was ${value})`);
  }
  for (const path of after.hostPaths) if (!before.hostPaths.includes(path)) left.push(`host path ${path}`);
  return left;
}

/** What /proc shows of a process: its command line, cgroups, status fields and root mount options. */
export interface ProcessFacts {
  pid: number;
  command: string;
  cgroup: string;
  status: Record<string, string>;
  rootMountOptions: string[];
}

/** The processes whose command line is `command` (arguments joined by spaces), read from /proc. */
export function processesRunning(command: string): ProcessFacts[] {
  const found: ProcessFacts[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (line !== command) continue;
      const status = Object.fromEntries(
        readFileSync(`/proc/${pid}/status`, 'utf8')
          .split('\n')
          .map((entry) => entry.split(':\t'))
          .map(([key, value]) => [key, value?.trim() ?? '']),
      );
      const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
        .split('\n')
        .find((entry) => entry.split(' ')[4] === '/');
      found.push({
        pid: Number(pid),
        command: line,
        cgroup: readFileSync(`/proc/${pid}/cgroup`, 'utf8'),
        status,
        rootMountOptions: (root?.split(' ')[5] ?? '').split(','),
      });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}
