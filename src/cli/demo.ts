// `nhictl demo` (npm run demo): brings up the dev environment and shows it healthy. The identity
// lifecycle walk-through builds on this once the operator provisions identities.

import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import { devUp } from './dev.ts';

export async function runDemo(log: (line: string) => void = console.log): Promise<void> {
  const env = await devUp(log);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfigPath);
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  const namespaces = await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
  log(`kube-apiserver ${version.gitVersion}: ${namespaces.items.length} namespaces`);
  const bao = (await (await fetch(`${env.bao.addr}/v1/sys/health`)).json()) as {
    version: string;
    sealed: boolean;
  };
  log(`OpenBao ${bao.version}: ${bao.sealed ? 'sealed' : 'unsealed'}`);
  const moto = await fetch(`${env.aws.endpoint}/moto-api/`);
  log(`moto_server (IAM, STS, Secrets Manager): HTTP ${moto.status}`);
  log('environment healthy. Stop it with: npx nhictl dev down');
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('bring up the local environment and walk an identity through its lifecycle')
    .action(async () => {
      await runDemo();
    });
}
