// How nhictl reaches a cluster: KUBECONFIG / ~/.kube/config as kubectl does, or, when neither is
// set and `nhictl dev up` is running, the dev environment's kubeconfig.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { readEnvironment } from '../dev/environment.ts';
import { devDir } from './dev.ts';

export function loadKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const dev = readEnvironment(devDir());
  if (!process.env.KUBECONFIG && !existsSync(join(homedir(), '.kube', 'config')) && dev) {
    kc.loadFromFile(dev.kubeconfigPath);
  } else {
    kc.loadFromDefault();
  }
  return kc;
}

export function currentNamespace(kc: k8s.KubeConfig, flag: string | undefined): string {
  return flag ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}
