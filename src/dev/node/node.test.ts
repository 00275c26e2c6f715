import { describe, expect, it } from 'vitest';
import { CNI_BIN_DIR, RUNC } from '../components.ts';
import {
  bridgePorts,
  cniConfig,
  containerdConfig,
  KUBERNETES_SERVICE_IP,
  kubeletConfig,
  NODE_IP,
  POD_SUBNET,
} from './node.ts';

const STATE = '/tmp/nhi-env-x/node';
/** The only host paths the node's configuration may name outside its state folder. */
const HOST_PATHS = [RUNC, CNI_BIN_DIR, '/etc/resolv.conf', '/tmp/nhi-env-x/pki/ca.crt'];

function absolutePaths(text: string): string[] {
  return [...text.matchAll(/(?<![\w.:/])\/(?:[\w.-]+\/?)+/g)].map((m) => m[0].replace(/\/$/, ''));
}

describe('the dev node configuration', () => {
  it('keeps every path containerd, the CNI plugins and kubelet write under the state folder', () => {
    const configs = [
      containerdConfig(STATE),
      cniConfig(STATE),
      kubeletConfig(STATE, '/tmp/nhi-env-x/pki/ca.crt', 10250, 10248),
    ];
    for (const text of configs) {
      expect(absolutePaths(text).filter((path) => path.startsWith(STATE)).length).toBeGreaterThan(0);
      for (const path of absolutePaths(text)) {
        if (HOST_PATHS.includes(path)) continue;
        expect(path.startsWith(`${STATE}/`), `${path} is outside ${STATE}`).toBe(true);
      }
    }
  });

  it('gives pods no default route and no NAT: only their subnet and the kubernetes Service address', () => {
    const bridge = JSON.parse(cniConfig(STATE)).plugins[0];
    expect(bridge).toMatchObject({ type: 'bridge', isGateway: true, ipMasq: false });
    expect(bridge.ipam.ranges).toEqual([[{ subnet: POD_SUBNET, gateway: NODE_IP }]]);
    expect(bridge.ipam.routes).toEqual([{ dst: `${KUBERNETES_SERVICE_IP}/32` }]);
  });

  it('leaves no iptables chains, never collects the local images, and serves the kubelet API with x509 only', () => {
    const kubelet = JSON.parse(kubeletConfig(STATE, '/ca.crt', 1, 2));
    expect(kubelet.makeIPTablesUtilChains).toBe(false);
    expect(kubelet.imageGCHighThresholdPercent).toBe(100);
    expect(kubelet.authentication).toEqual({
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: '/ca.crt' },
    });
    expect(kubelet.address).toBe(NODE_IP);
  });

  it('sends image pulls nowhere and clamps oom_score_adj (no CAP_SYS_RESOURCE here)', () => {
    const toml = containerdConfig(STATE);
    expect(toml).toContain(`config_path = "${STATE}/certs.d"`);
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('"io.containerd.nri.v1.nri"');
  });
});

describe('the teardown of the dev bridge', () => {
  it('finds the pod veths attached to the bridge from `ip -o link show master`', () => {
    const listing = [
      '7: veth1a2b3c4d@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master nhi0 state UP mode DEFAULT',
      '9: vethdeadbeef@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master nhi0 state UP mode DEFAULT',
      '',
    ].join('\n');
    expect(bridgePorts(listing)).toEqual(['veth1a2b3c4d', 'vethdeadbeef']);
    expect(bridgePorts('')).toEqual([]);
  });
});
