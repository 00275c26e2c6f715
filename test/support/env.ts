// What integration tests use to reach the real components started by the global setup.

import * as k8s from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { DevEnvironment } from '../../src/dev/environment.ts';

export type NhiTestEnv = DevEnvironment;

export function testEnv(): NhiTestEnv {
  return inject('nhiEnv');
}

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testEnv().kubeconfigPath);
  return kc;
}

/** Environment variables a child process (operator, nhictl) needs to reach the components. */
export function childProcessEnv(): NodeJS.ProcessEnv {
  const env = testEnv();
  return {
    ...process.env,
    KUBECONFIG: env.kubeconfigPath,
    BAO_ADDR: env.bao.addr,
    BAO_TOKEN: env.bao.token,
    AWS_ENDPOINT_URL: env.aws.endpoint,
    AWS_REGION: env.aws.region,
    AWS_ACCESS_KEY_ID: env.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.aws.secretAccessKey,
  };
}

export type AwsEndpoint = NhiTestEnv['aws'];

/** AWS SDK v3 client settings for moto: the test environment's endpoint, region and generated keys. */
export function awsClientConfig(
  aws: AwsEndpoint = testEnv().aws,
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
) {
  return {
    region: aws.region,
    endpoint: aws.endpoint,
    credentials: credentials ?? { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  };
}
